"""Settings shared by every service, read from ``IOC_*`` environment variables and ``.env``.

Each area (ingest, alerts, api, ...) may define its own settings class in its own package with
the same ``IOC_`` prefix; this module holds only what several of them need.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_CONFIG = SettingsConfigDict(env_prefix="IOC_", env_file=".env", extra="ignore")


class Settings(BaseSettings):
    """Database, broker and logging settings used by every ``ioc`` command."""

    model_config = ENV_CONFIG

    database_url: str = Field(
        "postgresql://postgres@localhost:5432/ioc",
        description="PostgreSQL URL of the IOC database (libpq form).",
    )
    mqtt_url: str = Field(
        "mqtt://localhost:1883",
        description="MQTT broker URL: mqtt://[user[:password]@]host[:port] (mqtts:// for TLS).",
    )
    mqtt_protocol: Literal["5", "3.1.1"] = Field(
        "5",
        description="MQTT protocol version spoken by ingest and simulators; 3.1.1 has no shared "
        "subscriptions (one ingest process) and is used with the embedded demo broker.",
    )
    log_level: str = Field("INFO", description="Logging level: DEBUG, INFO, WARNING, ERROR.")
    db_pool_size: int = Field(8, ge=1, description="Maximum connections per process pool.")
    ingest_db_password: SecretStr | None = Field(
        None, description="Password given to the ioc_ingest login role by `ioc migrate --roles`."
    )
    app_db_password: SecretStr | None = Field(
        None, description="Password given to the ioc_app login role by `ioc migrate --roles`."
    )
    grafana_db_password: SecretStr | None = Field(
        None, description="Password given to the ioc_grafana login role by `ioc migrate --roles`."
    )
    partition_days_ahead: int = Field(
        14, ge=1, description="Daily time partitions kept ready ahead of today (plain PostgreSQL)."
    )
    raw_retention_days: int = Field(
        30, ge=1, description="Days of raw telemetry kept; also the oldest timestamp accepted."
    )


class MqttTarget:
    """Broker address parsed from ``IOC_MQTT_URL``."""

    def __init__(self, url: str, protocol: str = "5") -> None:
        parts = urlsplit(url)
        self.v5 = protocol == "5"
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"IOC_MQTT_URL must start with mqtt:// or mqtts://, got {url!r}")
        self.tls = parts.scheme in ("mqtts", "ssl")
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (8883 if self.tls else 1883)
        self.username = parts.username
        self.password = parts.password

    def __repr__(self) -> str:
        auth = f"{self.username}:***@" if self.username else ""
        return f"mqtt{'s' if self.tls else ''}://{auth}{self.host}:{self.port}"


def redact_url(url: str) -> str:
    """Return the URL with any password replaced by ``***`` (safe for logs)."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()
