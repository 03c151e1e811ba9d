"""No secret in the logs: the redaction filter installed by ``ioc.logs.configure``."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from ioc.redact import RedactingFilter, install, redact

SECRET = "s3cr3t-VALUE_42xyz"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"postgresql://ioc_app:{SECRET}@db:5432/ioc", "postgresql://ioc_app:***@db:5432/ioc"),
        (f"mqtt://_ioc_ingest:{SECRET}@broker:1883", "mqtt://_ioc_ingest:***@broker:1883"),
        (f"GET https://api.telegram.org/bot123456789:{SECRET}/sendMessage", "bot123456789:***/"),
        (f"Authorization: Bearer {SECRET}", "Authorization: ***"),
        (f"headers={{'authorization': 'Bearer {SECRET}'}}", "'authorization': '***'"),
        (f"sent Bearer {SECRET} to the API", "Bearer ***"),
        (f"host=db user=ioc_app password={SECRET} dbname=ioc", "password=*** dbname=ioc"),
        (f'{{"token": "{SECRET}", "user": "an"}}', '"token": "***"'),
        (f"IOC_TELEGRAM_BOT_TOKEN={SECRET}", "IOC_TELEGRAM_BOT_TOKEN=***"),
        (f"api_key: {SECRET}", "api_key: ***"),
        (f"/api/v1/alerts?access_token={SECRET}&x=1", "access_token=***&x=1"),
        (f"cam-a:$7$101$SkjFi6YNaXFAZsBl${SECRET}==", "cam-a:$7$***"),
    ],
)
def test_secrets_are_masked(text: str, kept: str) -> None:
    out = redact(text)
    assert SECRET not in out
    assert kept in out


@pytest.mark.parametrize(
    "text",
    [
        "ingest: 120 messages, 0 quarantined (reason=bad_topic)",
        "device ts-cam-01 online; token_expiry_days=30",
        "Thiết bị ts-cam-01 mất kết nối lúc 06:00",
        "mqtt://broker:1883 connected",
        "tokens issued: 3",
    ],
)
def test_ordinary_lines_are_left_alone(text: str) -> None:
    assert redact(text) == text


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger with its own stream handler and the redaction installed (state restored)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("tests.security.redact")
    logger.addHandler(handler)
    logger.propagate = False
    factory = logging.getLogRecordFactory()
    install(logger)
    yield logger, stream
    logging.setLogRecordFactory(factory)
    logger.removeHandler(handler)


def test_log_records_arguments_and_tracebacks_are_masked(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.warning("connecting to %s", f"postgresql://ioc_app:{SECRET}@db/ioc")
    logger.info("telegram %s", f"https://api.telegram.org/bot42424242:{SECRET}/sendMessage")
    try:
        raise RuntimeError(f"login failed with password={SECRET}")
    except RuntimeError:
        logger.exception("broker error")
    text = stream.getvalue()
    assert SECRET not in text
    assert "postgresql://ioc_app:***@db/ioc" in text and "password=***" in text
    assert "RuntimeError" in text  # the traceback itself is kept


def test_records_created_before_any_handler_filter_are_masked_too(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    """Handlers added later (uvicorn configures its own) get already-masked records."""
    logger, _ = captured
    late = io.StringIO()
    handler = logging.StreamHandler(late)
    logger.addHandler(handler)
    try:
        logger.error("token=%s", SECRET)
    finally:
        logger.removeHandler(handler)
    assert SECRET not in late.getvalue() and "token=***" in late.getvalue()


def test_filter_survives_broken_format_strings() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "bad %d format", ("x",), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "bad %d format"


def test_configure_installs_the_redaction() -> None:
    from ioc.logs import configure

    factory = logging.getLogRecordFactory()
    try:
        configure("WARNING")
        record = logging.getLogRecordFactory()(
            "x", logging.WARNING, __file__, 1, "password=%s", (SECRET,), None
        )
        assert record.getMessage() == "password=***"
    finally:
        logging.setLogRecordFactory(factory)
