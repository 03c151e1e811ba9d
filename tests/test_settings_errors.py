"""A malformed IOC_* setting ends in one line naming it, what is wrong and a valid example."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CASES = [
    ({"IOC_DATABASE_URL": "localhost:5432/ioc"}, ["migrate"], "IOC_DATABASE_URL", "postgresql://"),
    ({"IOC_DATABASE_URL": "postgres//x"}, ["api"], "IOC_DATABASE_URL", "postgresql://"),
    ({"IOC_MQTT_URL": "localhost:1883"}, ["ingest"], "IOC_MQTT_URL", "mqtt://localhost:1883"),
    ({"IOC_MQTT_URL": "mqtt://broker:abc"}, ["ingest"], "IOC_MQTT_URL", "mqtt://localhost:1883"),
    ({"IOC_API_PORT": "abc"}, ["api"], "IOC_API_PORT", "integer"),
    ({"IOC_INGEST_BATCH_SIZE": "x"}, ["ingest"], "IOC_INGEST_BATCH_SIZE", "integer"),
    ({"IOC_ALERTS_EVALUATION_INTERVAL_S": "-1"}, ["alerts"], "IOC_ALERTS_EVALUATION", "greater"),
    # Areas with their own prefix, and variables kept outside it (aliases).
    ({"IOC_COLLECTOR_MAX_BYTES": "1"}, ["collector", "run"], "IOC_COLLECTOR_MAX_BYTES", "greater"),
    ({"IOC_DB_POOL_TIMEOUT_S": "0"}, ["api"], "IOC_DB_POOL_TIMEOUT_S", "greater"),
    ({"IOC_CONSOLE_SESSION_HOURS": "x"}, ["users", "list"], "IOC_CONSOLE_SESSION_HOURS", "number"),
    ({"IOC_RETENTION_5M_DAYS": "0"}, ["maintain", "--once"], "IOC_RETENTION_5M_DAYS", "greater"),
    ({"IOC_BACKUP_KEEP": "0"}, ["backup", "list"], "IOC_BACKUP_KEEP", "greater"),
]


@pytest.mark.parametrize(("env", "args", "name", "hint"), CASES, ids=lambda v: str(v)[:40])
def test_bad_setting_is_one_line(
    env: dict[str, str], args: list[str], name: str, hint: str
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    done = subprocess.run(
        [sys.executable, "-m", "ioc", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: invalid setting {name}"), lines[0]
    assert hint in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("env", "build", "name"),
    [
        # IOC_API_PORT is set too: the message names the class's own variable, not any *_PORT.
        ({"IOC_SMTP_PORT": "x", "IOC_API_PORT": "8001"}, "smtp", "IOC_SMTP_PORT"),
        ({"IOC_TELEGRAM_POLL_TIMEOUT_S": "99"}, "telegram", "IOC_TELEGRAM_POLL_TIMEOUT_S"),
        ({"IOC_ZALO_WEBHOOK_LISTEN": "nowhere"}, "zalo", "IOC_ZALO_WEBHOOK_LISTEN"),
        ({"IOC_LANGUAGE": "fr"}, "notify", "IOC_LANGUAGE"),
        ({"IOC_ALERTS_PARENT_HOLD_BY_TYPE": '{"x": 1}'}, "alerts", "IOC_ALERTS_PARENT_HOLD_BY"),
        ({"IOC_COMPRESS_AFTER_DAYS": "0"}, "retention", "IOC_COMPRESS_AFTER_DAYS"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_error_names_the_variable_of_the_class(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], build: str, name: str
) -> None:
    from pydantic import ValidationError

    from alerts.notify.channels.smtp_settings import SmtpSettings
    from alerts.notify.settings import NotifySettings
    from alerts.settings import AlertSettings
    from alerts.telegram.settings import TelegramSettings
    from alerts.zalo.settings import ZaloSettings
    from ioc.settings import explain_settings_error
    from storage.settings import RetentionSettings

    classes = {
        "smtp": SmtpSettings,
        "telegram": TelegramSettings,
        "zalo": ZaloSettings,
        "notify": NotifySettings,
        "alerts": AlertSettings,
        "retention": RetentionSettings,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError) as caught:
        classes[build](_env_file=None)
    line = explain_settings_error(caught.value)
    assert line.startswith(f"invalid setting {name}"), line
    assert "\n" not in line
