"""Channels on loopback: Alertmanager v4 webhook body, SMTP (aiosmtpd), Telegram, console."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller
from psycopg_pool import ConnectionPool

from alerts.notify.channels.smtp_settings import SmtpSettings
from ioc.ports import free_port
from tests.alerts.notify.helpers import HttpReceiver, at, fire, make_notifier, outbox


class Mailbox:
    """aiosmtpd handler keeping every message; recipients in ``refuse`` get a 550."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 Message accepted"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    """A loopback SMTP server."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def _one_alert(db: psycopg.Connection) -> int:
    return fire(
        db,
        "ts-uplink",
        device_type="link",
        rule="link_down",
        summary="Mất kết nối đường truyền Cáp quang UBND",
        annotations={"description": "Đường truyền không phản hồi", "impact": {"camera": 10}},
    )


def test_alertmanager_v4_body(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    db = registry
    config = {
        "receivers": [
            {"name": "am", "webhook": {"url": f"{receiver.url}/hook", "format": "alertmanager"}}
        ],
        "default_receiver": "am",
    }
    notifier = make_notifier(pool, tmp_path, config)
    alert = _one_alert(db)
    notifier.tick(at(2))
    assert notifier.deliver(at(2)) == 1
    request = receiver.requests[0]
    assert request.path == "/hook"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "Mất kết nối".encode() in request.body  # raw UTF-8, not \\u escapes
    body = request.json()
    assert body["version"] == "4"
    assert body["status"] == "firing"
    assert body["receiver"] == "am"
    assert body["groupKey"] == 'default:{commune="21025"}'
    assert body["groupLabels"] == {"commune": "21025"}
    assert body["externalURL"] == "http://ioc.test"
    assert body["commonLabels"]["alertname"] == "link_down"
    assert body["commonAnnotations"]["summary"] == "Mất kết nối đường truyền Cáp quang UBND"
    (item,) = body["alerts"]
    assert set(item) == {
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "generatorURL",
        "fingerprint",
    }
    assert item["labels"]["device"] == "ts-uplink"
    assert item["labels"]["severity"] == "critical"
    assert item["annotations"]["impact"] == '{"camera": 10}'
    assert item["startsAt"].startswith("2026-11-22T07:00:00")
    assert item["endsAt"] == "0001-01-01T00:00:00Z"
    assert item["generatorURL"] == f"http://ioc.test/console/alerts/{alert}"
    assert body["dedupKey"] == outbox(db)[0]["dedup_key"]
    notifier.close()


def test_email_subject_and_body_keep_vietnamese(
    registry: psycopg.Connection, pool: ConnectionPool, smtp: tuple[Mailbox, int], tmp_path: Path
) -> None:
    db = registry
    box, port = smtp
    config = {
        "receivers": [
            {
                "name": "mail",
                "email": {"to": ["kythuat@tinhson.test"], "from": "ioc@tinhson.test"},
            }
        ],
        "default_receiver": "mail",
    }
    notifier = make_notifier(
        pool, tmp_path, config, smtp=SmtpSettings(_env_file=None, host="127.0.0.1", port=port)
    )
    _one_alert(db)
    notifier.tick(at(2))
    assert notifier.deliver(at(2)) == 1
    (msg,) = box.messages
    assert msg["Subject"] == (
        "[ĐANG CẢNH BÁO] Xã Tịnh Sơn: Mất kết nối đường truyền Cáp quang UBND"
    )
    assert msg["To"] == "kythuat@tinhson.test"
    assert msg["X-IOC-Dedup-Key"] == outbox(db)[0]["dedup_key"]
    text = msg.get_content()
    assert "Thiết bị: Cáp quang UBND (VNPT)\n" in text and "ts-uplink)" not in text
    assert "10 camera không truy cập được" in text
    assert "14:00 22/11/2026 (giờ Việt Nam)" in text
    notifier.close()


def test_email_refused_recipient_is_permanent(
    registry: psycopg.Connection, pool: ConnectionPool, smtp: tuple[Mailbox, int], tmp_path: Path
) -> None:
    db = registry
    box, port = smtp
    box.refuse.add("nobody@tinhson.test")
    config = {
        "receivers": [{"name": "mail", "email": {"to": ["nobody@tinhson.test"]}}],
        "default_receiver": "mail",
    }
    notifier = make_notifier(
        pool, tmp_path, config, smtp=SmtpSettings(_env_file=None, host="127.0.0.1", port=port)
    )
    _one_alert(db)
    notifier.tick(at(2))
    assert notifier.deliver(at(2)) == 0
    row = outbox(db)[0]
    assert row["state"] == "failed"
    assert "nobody@tinhson.test (550)" in row["last_error"]
    assert box.messages == []
    notifier.close()


def test_telegram_send_message(
    registry: psycopg.Connection,
    pool: ConnectionPool,
    receiver: HttpReceiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = registry
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("TEST_TG_TOKEN", "123:secret")
    config = {
        "language": "en",
        "receivers": [
            {
                "name": "tg",
                "language": "vi",
                "telegram": {
                    "chat_id": -100123,
                    "bot_token_env": "TEST_TG_TOKEN",
                    "api_url": receiver.url,
                },
            }
        ],
        "default_receiver": "tg",
    }
    notifier = make_notifier(pool, tmp_path, config)
    _one_alert(db)
    notifier.tick(at(2))
    receiver.reply(429, {"ok": False, "error_code": 429, "parameters": {"retry_after": 7}})
    assert notifier.deliver(at(2)) == 0
    row = outbox(db)[0]
    assert row["next_attempt_at"] == at(9)
    assert "secret" not in row["last_error"]
    assert notifier.deliver(at(9)) == 1
    request = receiver.requests[-1]
    assert request.path == "/bot123:secret/sendMessage"
    body = request.json()
    assert body["chat_id"] == -100123
    assert body["text"].startswith("[ĐANG CẢNH BÁO] Xã Tịnh Sơn: Mất kết nối đường truyền")
    assert "Cáp quang UBND (VNPT)" in body["text"]
    buttons = [b["text"] for row in body["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["Xác nhận", "Nhận xử lý", "Tạm tắt 2 giờ"]
    assert "sendMessage" in caplog.text and "secret" not in caplog.text
    notifier.close()


def test_english_and_console_channel(
    registry: psycopg.Connection,
    pool: ConnectionPool,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = registry
    config = {
        "language": "en",
        "receivers": [{"name": "log", "console": {}}],
        "default_receiver": "log",
    }
    notifier = make_notifier(pool, tmp_path, config)
    _one_alert(db)
    notifier.tick(at(2))
    with caplog.at_level(logging.WARNING, logger="alerts.notify.channels.console"):
        assert notifier.deliver(at(2)) == 1
    text = caplog.text
    assert "[FIRING] Tịnh Sơn commune" not in text  # the registered name is used as is
    assert "[FIRING] Xã Tịnh Sơn: Device offline" in text
    assert "10 cameras unreachable" in text
    assert "14:00 22/11/2026 (Vietnam time)" in text
    notifier.close()


def test_starttls_required_but_not_offered_is_permanent(
    registry: psycopg.Connection, pool: ConnectionPool, smtp: tuple[Mailbox, int], tmp_path: Path
) -> None:
    db = registry
    box, port = smtp
    config = {
        "receivers": [{"name": "mail", "email": {"to": ["a@tinhson.test"], "starttls": True}}],
        "default_receiver": "mail",
    }
    notifier = make_notifier(
        pool, tmp_path, config, smtp=SmtpSettings(_env_file=None, host="127.0.0.1", port=port)
    )
    _one_alert(db)
    notifier.tick(at(2))
    assert notifier.deliver(at(2)) == 0
    row = outbox(db)[0]
    assert row["state"] == "failed"
    assert "SMTPNotSupportedError" in row["last_error"]
    assert box.messages == []
    notifier.close()
