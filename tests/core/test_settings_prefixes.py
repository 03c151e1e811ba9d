"""Each area's settings class reads its own prefix, and the variables deployments set stay read.

Deployments, docs, compose files and .env.example name the variables (``IOC_COLLECTOR_STATE_DIR``);
code names the short field (``CollectorSettings.state_dir``). Renaming a field must not rename a
variable: ``KNOWN`` lists every variable read, and changing it is a deliberate act.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from ioc.settings import env_name

ROOT = Path(__file__).resolve().parents[2]
KNOWN = {
    "IOC_ALERTS_BROKER_SETTLE_S",
    "IOC_ALERTS_CONFIG",
    "IOC_ALERTS_DELIVER_INTERVAL_S",
    "IOC_ALERTS_EVALUATION_INTERVAL_S",
    "IOC_ALERTS_HEARTBEAT_INTERVAL_S",
    "IOC_ALERTS_HEARTBEAT_TIMEOUT_S",
    "IOC_ALERTS_HEARTBEAT_URL",
    "IOC_ALERTS_HEARTBEAT_URL_2",
    "IOC_ALERTS_HISTORY_DAYS",
    "IOC_ALERTS_LEADER_LOCK_KEY",
    "IOC_ALERTS_LEADER_RETRY_S",
    "IOC_ALERTS_OFFLINE_FACTOR",
    "IOC_ALERTS_PARENT_HOLD_BY_TYPE",
    "IOC_ALERTS_PARENT_HOLD_MAX_S",
    "IOC_ALERTS_PARENT_HOLD_S",
    "IOC_ALERTS_PARENT_SUSPECT_CHILDREN",
    "IOC_ALERTS_PIPELINE_HEARTBEAT_S",
    "IOC_ALERTS_PIPELINE_SILENCE_S",
    "IOC_ALERTS_RECOVERY_GRACE_S",
    "IOC_ALERTS_STALE_FACTOR",
    "IOC_ALERTS_TOPOLOGY_REFRESH_S",
    "IOC_ALERTS_WATCH_INGEST",
    "IOC_API_BODY_LIMIT_BYTES",
    "IOC_API_HOST",
    "IOC_API_MAP_MBTILES",
    "IOC_API_PAGE_DEFAULT",
    "IOC_API_PAGE_MAX",
    "IOC_API_PORT",
    "IOC_API_RATE_LIMIT",
    "IOC_API_RATE_LIMIT_STORAGE",
    "IOC_API_RAW_MAX_STEP_S",
    "IOC_API_READYZ_TIMEOUT_S",
    "IOC_API_TELEMETRY_MAX_DAYS",
    "IOC_API_TELEMETRY_MAX_POINTS",
    "IOC_API_TIMEZONE",
    "IOC_API_TOKEN_DAYS",
    "IOC_API_TRUSTED_PROXIES",
    "IOC_API_WORKERS",
    "IOC_APP_DB_PASSWORD",
    "IOC_AVAILABILITY_GAP_FACTOR",
    "IOC_AVAILABILITY_INTERVAL_S",
    "IOC_AVAILABILITY_RECOMPUTE_DAYS",
    "IOC_BACKUP_DIR",
    "IOC_BACKUP_KEEP",
    "IOC_BACKUP_MAX_LAG_S",
    "IOC_BACKUP_PG_BINDIR",
    "IOC_BACKUP_URL",
    "IOC_BUS",
    "IOC_COLLECTOR_CLIENT_PREFIX",
    "IOC_COLLECTOR_ERROR_REPEAT_S",
    "IOC_COLLECTOR_HEARTBEAT_S",
    "IOC_COLLECTOR_ID",
    "IOC_COLLECTOR_INVENTORY_MAX_BYTES",
    "IOC_COLLECTOR_INVENTORY_TIMEOUT_S",
    "IOC_COLLECTOR_JITTER",
    "IOC_COLLECTOR_MAX_AGE_DAYS",
    "IOC_COLLECTOR_MAX_BYTES",
    "IOC_COLLECTOR_PUSH_ALLOW",
    "IOC_COLLECTOR_PUSH_SECRET_ENV",
    "IOC_COLLECTOR_RECEIVER_BODY_TIMEOUT_S",
    "IOC_COLLECTOR_RECEIVER_HEADER_TIMEOUT_S",
    "IOC_COLLECTOR_RECEIVER_MAX_CONNECTIONS",
    "IOC_COLLECTOR_REPLAY_RATE",
    "IOC_COLLECTOR_SECRETS_FILE",
    "IOC_COLLECTOR_STATE_DIR",
    "IOC_COLLECTOR_WEBHOOK_HOST",
    "IOC_COLLECTOR_WEBHOOK_PORT",
    "IOC_COMPRESS_AFTER_DAYS",
    "IOC_CONSOLE_COOKIE_SECURE",
    "IOC_CONSOLE_KNOWN_ADDRESS_DAYS",
    "IOC_CONSOLE_LOGIN_ADDRESS_RATE_LIMIT",
    "IOC_CONSOLE_LOGIN_RATE_LIMIT",
    "IOC_CONSOLE_LOGIN_USER_RATE_LIMIT",
    "IOC_CONSOLE_MAP_TILE_URL",
    "IOC_CONSOLE_PAGE_SIZE",
    "IOC_CONSOLE_REFRESH_S",
    "IOC_CONSOLE_SESSION_HOURS",
    "IOC_DATABASE_URL",
    "IOC_DB_POOL_SIZE",
    "IOC_DB_POOL_TIMEOUT_S",
    "IOC_GRAFANA_DB_PASSWORD",
    "IOC_INGEST_ACK_WAIT_S",
    "IOC_INGEST_BATCH_MAX_WAIT_S",
    "IOC_INGEST_BATCH_SIZE",
    "IOC_INGEST_DB_PASSWORD",
    "IOC_INGEST_DRAIN_QUIET_S",
    "IOC_INGEST_DRAIN_TIMEOUT_S",
    "IOC_INGEST_FAST_READER",
    "IOC_INGEST_GROUP",
    "IOC_INGEST_HEARTBEAT_S",
    "IOC_INGEST_INSTANCE",
    "IOC_INGEST_KEEPALIVE_S",
    "IOC_INGEST_LATEST_MAX_AHEAD_S",
    "IOC_INGEST_MAX_ACK_PENDING",
    "IOC_INGEST_MAX_FUTURE_S",
    "IOC_INGEST_MAX_PAYLOAD_BYTES",
    "IOC_INGEST_METRICS_HOST",
    "IOC_INGEST_METRICS_PORT",
    "IOC_INGEST_PARTITIONS_INTERVAL_S",
    "IOC_INGEST_QUARANTINE_BUDGET",
    "IOC_INGEST_QUARANTINE_BUDGET_WINDOW_S",
    "IOC_INGEST_RECEIVE_MAXIMUM",
    "IOC_INGEST_REGISTRY_REFRESH_S",
    "IOC_INGEST_RETRY_MAX_S",
    "IOC_INGEST_SEQ_GAP_HOLD_S",
    "IOC_INGEST_SESSION_EXPIRY_S",
    "IOC_INGEST_TAKEOVER_AFTER_S",
    "IOC_INGEST_TAKEOVER_CHECK_S",
    "IOC_INGEST_TOPIC_PREFIX",
    "IOC_INGEST_UNKNOWN_REFRESH_MIN_S",
    "IOC_LANGUAGE",
    "IOC_LOG_LEVEL",
    "IOC_MIGRATE_ADMIN_URL",
    "IOC_MQTT_PROTOCOL",
    "IOC_MQTT_URL",
    "IOC_MQTT_URLS",
    "IOC_NATS_URLS",
    "IOC_NOTIFY_BACKOFF_BASE_S",
    "IOC_NOTIFY_BACKOFF_MAX_S",
    "IOC_NOTIFY_BATCH",
    "IOC_NOTIFY_DELIVER_BUDGET_S",
    "IOC_NOTIFY_LEASE_S",
    "IOC_NOTIFY_MAX_ATTEMPTS",
    "IOC_NOTIFY_RESEND_INTERRUPTED",
    "IOC_NOTIFY_RETENTION_DAYS",
    "IOC_NOTIFY_TICK_SLACK_S",
    "IOC_OWNER_DB_PASSWORD",
    "IOC_PARTITIONS_AHEAD_DAYS",
    "IOC_PARTITION_DAYS_AHEAD",
    "IOC_PUBLIC_URL",
    "IOC_RAW_RETENTION_DAYS",
    "IOC_READ_DATABASE_URL",
    "IOC_REPORT_TIMEZONE",
    "IOC_REPORT_WORST_DEVICES",
    "IOC_RETENTION_1H_DAYS",
    "IOC_RETENTION_5M_DAYS",
    "IOC_RETENTION_AVAILABILITY_DAYS",
    "IOC_RETENTION_EVENTS_DAYS",
    "IOC_RETENTION_INTERVAL_S",
    "IOC_RETENTION_LOCK_TIMEOUT_S",
    "IOC_RETENTION_QUARANTINE_DAYS",
    "IOC_RETENTION_RAW_DAYS",
    "IOC_RETENTION_STATUS_DAYS",
    "IOC_ROLLUP_BATCH_HOURS",
    "IOC_ROLLUP_INTERVAL_S",
    "IOC_ROLLUP_LAG_S",
    "IOC_RULES",
    "IOC_SIM_DRILL_GRACE_S",
    "IOC_SIM_DRILL_POLL_S",
    "IOC_SIM_KEEPALIVE_S",
    "IOC_SIM_MAX_INFLIGHT",
    "IOC_SIM_PROGRESS_S",
    "IOC_SIM_SHARED_ABOVE",
    "IOC_SMTP_FROM",
    "IOC_SMTP_HOST",
    "IOC_SMTP_PASSWORD",
    "IOC_SMTP_PORT",
    "IOC_SMTP_STARTTLS",
    "IOC_SMTP_USER",
    "IOC_TELEGRAM_ANSWER_MAX_BYTES",
    "IOC_TELEGRAM_API_URL",
    "IOC_TELEGRAM_BOT_TOKEN",
    "IOC_TELEGRAM_BOT_USERNAME",
    "IOC_TELEGRAM_LINK_CODE_MINUTES",
    "IOC_TELEGRAM_LINK_RATE_LIMIT",
    "IOC_TELEGRAM_POLL_TIMEOUT_S",
    "IOC_TELEGRAM_RECEIVE",
    "IOC_TELEGRAM_WEBHOOK_DEADLINE_S",
    "IOC_TELEGRAM_WEBHOOK_LISTEN",
    "IOC_TELEGRAM_WEBHOOK_MAX_CONNECTIONS",
    "IOC_TELEGRAM_WEBHOOK_URL",
    "IOC_TIMEZONE",
    "IOC_ZALO_API_URL",
    "IOC_ZALO_APP_ID",
    "IOC_ZALO_APP_SECRET",
    "IOC_ZALO_EVENT_MAX_AGE_S",
    "IOC_ZALO_INBOX_INTERVAL_S",
    "IOC_ZALO_OAUTH_URL",
    "IOC_ZALO_OA_SECRET",
    "IOC_ZALO_REFRESH_TOKEN",
    "IOC_ZALO_TOKEN_MARGIN_S",
    "IOC_ZALO_WEBHOOK_LISTEN",
    "IOC_ZALO_WEBHOOK_PATH",
    "IOC_ZALO_WINDOW_HOURS",
    "IOC_ZALO_ZNS_URL",
}


def _classes() -> list[type[BaseSettings]]:
    """Every settings class of the product (as docs/gen_config.py finds them)."""
    spec = importlib.util.spec_from_file_location("gen_config", ROOT / "docs" / "gen_config.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    classes: list[type[BaseSettings]] = module.settings_classes()
    return classes


def _prefix(cls: type[BaseSettings]) -> str:
    return str(cls.model_config.get("env_prefix") or "")


def test_every_variable_read_is_known_and_read_once() -> None:
    names = [env_name(cls, field) for cls in _classes() for field in cls.model_fields]
    assert len(names) == len(set(names)), "two settings read one variable"
    assert set(names) == KNOWN


def test_each_area_has_its_own_prefix() -> None:
    prefixes: dict[str, str] = {}
    for cls in _classes():
        prefix = _prefix(cls)
        assert prefix.startswith("IOC_") and prefix.endswith("_"), cls
        if prefix == "IOC_":
            assert f"{cls.__module__}.{cls.__qualname__}" == "ioc.settings.Settings", cls
        assert prefix not in prefixes, f"{cls.__name__} and {prefixes[prefix]} share {prefix}"
        prefixes[prefix] = cls.__name__


def test_no_field_repeats_its_prefix() -> None:
    for cls in _classes():
        word = _prefix(cls).removeprefix("IOC_").lower()
        if not word:
            continue
        repeated = [name for name in cls.model_fields if name.startswith(word)]
        assert not repeated, f"{cls.__name__}: {repeated} repeat {word!r} (the prefix says it)"


def test_an_aliased_field_is_read_by_its_variable_only() -> None:
    """A variable outside the prefix (IOC_RULES) keeps its name; prefix + field is not read."""
    for cls in _classes():
        for name, field in cls.model_fields.items():
            if isinstance(field.validation_alias, str):
                assert env_name(cls, name) == field.validation_alias.upper()


def test_settings_read_the_variables_into_short_fields(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from alerts.notify.channels.smtp_settings import SmtpSettings
    from alerts.notify.settings import NotifySettings
    from alerts.settings import AlertSettings
    from alerts.telegram.settings import TelegramSettings
    from alerts.zalo.settings import ZaloSettings
    from api.console.settings import ConsoleSettings
    from api.settings import ApiSettings
    from collector.settings import CollectorSettings
    from simulators.settings import SimulatorSettings
    from storage.backup.settings import BackupSettings
    from storage.settings import RetentionSettings, RollupSettings

    env = {
        "IOC_COLLECTOR_STATE_DIR": str(tmp_path / "state"),
        "IOC_COLLECTOR_ID": "col-9",
        "IOC_TELEGRAM_BOT_TOKEN": "123:abc",
        "IOC_ALERTS_EVALUATION_INTERVAL_S": "2.5",
        "IOC_RULES": str(tmp_path / "rules.yaml"),
        "IOC_ALERTS_CONFIG": str(tmp_path / "routes.yaml"),
        "IOC_PUBLIC_URL": "https://ioc.example",
        "IOC_NOTIFY_BATCH": "7",
        "IOC_SMTP_FROM": "canh-bao@xa.example",
        "IOC_ZALO_APP_ID": "42",
        "IOC_BACKUP_KEEP": "3",
        "IOC_API_PORT": "8123",
        "IOC_DB_POOL_TIMEOUT_S": "4",
        "IOC_CONSOLE_SESSION_HOURS": "2",
        "IOC_TELEGRAM_LINK_CODE_MINUTES": "5",
        "IOC_SIM_KEEPALIVE_S": "45",
        "IOC_RETENTION_5M_DAYS": "100",
        "IOC_PARTITIONS_AHEAD_DAYS": "3",
        "IOC_ROLLUP_LAG_S": "9",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    read: dict[str, Any] = {"_env_file": None}
    collector = CollectorSettings(**read)
    assert (collector.state_dir, collector.id) == (tmp_path / "state", "col-9")
    telegram = TelegramSettings(**read)
    assert telegram.bot_token is not None and telegram.bot_token.get_secret_value() == "123:abc"
    alerts = AlertSettings(**read)
    assert (alerts.evaluation_interval_s, alerts.rules) == (2.5, tmp_path / "rules.yaml")
    notify = NotifySettings(**read)
    assert (notify.alerts_config, notify.public_url, notify.batch) == (
        tmp_path / "routes.yaml",
        "https://ioc.example",
        7,
    )
    assert SmtpSettings(**read).sender == "canh-bao@xa.example"
    assert ZaloSettings(**read).app_id == "42"
    assert BackupSettings(**read).keep == 3
    api = ApiSettings(**read)
    assert (api.port, api.db_pool_timeout_s) == (8123, 4)
    console = ConsoleSettings(**read)
    assert (console.session_hours, console.telegram_link_code_minutes) == (2, 5)
    assert SimulatorSettings(**read).keepalive_s == 45
    retention = RetentionSettings(**read)
    assert (retention.five_minute_days, retention.partitions_ahead_days) == (100, 3)
    assert RollupSettings(**read).lag_s == 9


def test_prefix_plus_field_of_an_aliased_field_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from alerts.settings import AlertSettings
    from api.settings import ApiSettings

    monkeypatch.delenv("IOC_RULES", raising=False)
    monkeypatch.delenv("IOC_DB_POOL_TIMEOUT_S", raising=False)
    monkeypatch.setenv("IOC_ALERTS_RULES", "/elsewhere.yaml")
    monkeypatch.setenv("IOC_API_DB_POOL_TIMEOUT_S", "99")
    assert AlertSettings(_env_file=None).rules is None  # type: ignore[call-arg]
    assert ApiSettings(_env_file=None).db_pool_timeout_s == 10.0  # type: ignore[call-arg]


def test_aliased_fields_are_given_by_their_python_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """As any keyword, a field given by name wins over its variable."""
    from alerts.notify.settings import NotifySettings
    from storage.settings import RetentionSettings

    monkeypatch.setenv("IOC_PUBLIC_URL", "https://from-the-environment")
    notify = NotifySettings(_env_file=None, public_url="http://t", language="en")  # type: ignore[call-arg]
    assert (notify.public_url, notify.language) == ("http://t", "en")
    assert NotifySettings(_env_file=None).public_url == "https://from-the-environment"  # type: ignore[call-arg]
    assert RetentionSettings(_env_file=None, hourly_days=9).hourly_days == 9  # type: ignore[call-arg]
