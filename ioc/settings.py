"""Settings shared by every service, read from ``IOC_*`` environment variables and ``.env``.

Each area (ingest, alerts, api, ...) defines its own settings class in its own package with its
own prefix (``env_config("IOC_INGEST_")``: field ``batch_size`` reads ``IOC_INGEST_BATCH_SIZE``);
this module holds only what several of them need.
"""

from __future__ import annotations

import os
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ioc.mqttclient import MqttTarget


def env_config(prefix: str) -> SettingsConfigDict:
    """The config of a settings class reading ``{prefix}{FIELD}`` from the environment and .env."""
    return SettingsConfigDict(env_prefix=prefix, env_file=".env", extra="ignore")


class AreaSettings(BaseSettings):
    """Base of each area's settings class (``model_config = env_config("IOC_AREA_")``).

    A field whose variable lies outside the prefix (``IOC_RULES``) has it as ``validation_alias``
    and is read from that variable only. Code and tests may still pass it by field name
    (``rules=...``): mapped here, because pydantic's ``populate_by_name`` would also read
    prefix + field name (``IOC_ALERTS_RULES``), a second spelling nobody documents.
    """

    @model_validator(mode="before")
    @classmethod
    def _aliased_by_name(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name, field in cls.model_fields.items():
            alias = field.validation_alias
            if isinstance(alias, str) and name in data:
                data[alias] = data.pop(name)  # given by name: wins over the variable, as any kwarg
        return data


class Settings(BaseSettings):
    """Database, broker and logging settings used by every ``ioc`` command."""

    model_config = env_config("IOC_")

    database_url: str = Field(
        "postgresql://postgres@localhost:5432/ioc",
        description="PostgreSQL URL of the IOC database (libpq form).",
    )
    read_database_url: str | None = Field(
        None,
        description="Optional URL for read-only work (`ioc report`): with Patroni, every node "
        "and target_session_attrs=prefer-standby, so reports read a replica (seconds behind "
        "the primary at most, see docs/ha.md). Default: IOC_DATABASE_URL.",
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
    bus: Literal["mosquitto", "nats"] = Field(
        "mosquitto",
        description="The message bus: `mosquitto` (one broker, the default) or `nats` (a NATS "
        "JetStream cluster; devices speak MQTT 3.1.1 to any node, ingest pulls from JetStream; "
        "docs/scale-out.md).",
    )
    mqtt_urls: str = Field(
        "",
        description="Device-facing MQTT URLs of every bus node, comma-separated, first node "
        "first (`ioc bus local` writes it); empty: IOC_MQTT_URL alone.",
    )
    nats_urls: str = Field(
        "nats://localhost:4222",
        description="NATS client URLs of the bus nodes, comma-separated "
        "(nats://[user:password@]host:port); used by ingest with IOC_BUS=nats.",
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
    owner_db_password: SecretStr | None = Field(
        None,
        description="Password of the schema owner ioc_owner, created by `ioc migrate` when "
        "IOC_MIGRATE_ADMIN_URL is set (then IOC_DATABASE_URL logs in as ioc_owner).",
    )
    migrate_admin_url: str | None = Field(
        None,
        description="Superuser URL `ioc migrate` uses only to create the roles, the database "
        "(owned by ioc_owner) and the TimescaleDB extension; unset: none of that is done.",
    )
    partition_days_ahead: int = Field(
        14, ge=1, description="Daily time partitions kept ready ahead of today (plain PostgreSQL)."
    )
    raw_retention_days: int = Field(
        30, ge=1, description="Days of raw telemetry kept; also the oldest timestamp accepted."
    )

    @property
    def mqtt_url_list(self) -> list[str]:
        """Every device-facing MQTT URL, IOC_MQTT_URL when IOC_MQTT_URLS is empty."""
        urls = [u.strip() for u in self.mqtt_urls.split(",") if u.strip()]
        return urls or [self.mqtt_url]

    @property
    def nats_url_list(self) -> list[str]:
        """The NATS client URLs of the bus."""
        return [u.strip() for u in self.nats_urls.split(",") if u.strip()]

    @property
    def read_url(self) -> str:
        """Where read-only work connects: IOC_READ_DATABASE_URL, else IOC_DATABASE_URL."""
        return self.read_database_url or self.database_url

    @field_validator("database_url", "read_database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme in ("postgresql", "postgres"):  # postgresql:///ioc: the local socket
            return value
        if "=" in value and "://" not in value:  # libpq key=value form: host=... dbname=...
            return value
        raise ValueError(
            f"{value!r} is not a PostgreSQL URL; e.g. postgresql://postgres@localhost:5432/ioc"
        )

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        MqttTarget(value)
        return value


def redact_url(url: str) -> str:
    """Return the URL with any password replaced by ``***`` (safe for logs)."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def _settings_class(name: str) -> type[BaseSettings] | None:
    """The settings class called ``name`` (a ValidationError's title), if one is loaded."""
    stack: list[type[BaseSettings]] = [BaseSettings]
    while stack:
        cls = stack.pop()
        if cls.__name__ == name and cls is not BaseSettings:
            return cls
        stack.extend(cls.__subclasses__())
    return None


def env_name(cls: type[BaseSettings], field: str) -> str:
    """The environment variable a settings field is read from: its alias, else prefix + name."""
    info = cls.model_fields[field]
    alias = info.validation_alias if isinstance(info.validation_alias, str) else None
    prefix = str(cls.model_config.get("env_prefix") or "")
    return (alias or f"{prefix}{field}").upper()


def _variable(title: str, loc: tuple[int | str, ...]) -> str:
    """The variable an error location stands for (the class's prefix + field, or the alias)."""
    field = "_".join(str(p) for p in loc)
    if field.upper().startswith("IOC_"):  # an aliased field reports its alias
        return field.upper()
    cls = _settings_class(title)
    if cls is not None and loc and loc[0] in cls.model_fields:
        return env_name(cls, str(loc[0]))
    # Unknown class: the IOC_* variable set that ends with the field's name.
    given_as = [k.upper() for k in os.environ if k.upper().endswith(f"_{field.upper()}")]
    return next((k for k in given_as if k.startswith("IOC_")), f"IOC_{field.upper()}")


def explain_settings_error(exc: ValidationError) -> str:
    """One line per bad ``IOC_*`` setting: its variable, what is wrong, the value given."""
    lines = []
    for err in exc.errors():
        name = _variable(exc.title, err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        given = err.get("input")
        shown = f" (got {given!r})" if isinstance(given, str | int | float) and given != "" else ""
        if repr(given) in msg:
            shown = ""
        lines.append(f"invalid setting {name}: {msg}{shown}")
    return "\n".join(lines)
