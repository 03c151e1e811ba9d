"""Notification settings: the outbox (``IOC_NOTIFY_*``), routes file, links and language.

Each integration reads its own settings beside its code (``alerts.notify.channels.smtp_settings``,
``alerts.telegram.settings``, ``alerts.zalo.settings``); the entry point builds them all and
passes them down together as a ``NotifySetup``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field

from alerts.notify.channels.smtp_settings import SmtpSettings
from alerts.telegram.settings import TelegramSettings
from alerts.zalo.settings import ZaloSettings
from ioc.settings import AreaSettings, env_config


class NotifySettings(AreaSettings):
    """Routes file, links, language and the outbox's pace and retries."""

    model_config = env_config("IOC_NOTIFY_")

    # Variables without the area word keep their names (IOC_ALERTS_CONFIG, IOC_PUBLIC_URL, ...).
    alerts_config: Path | None = Field(
        None,
        validation_alias="IOC_ALERTS_CONFIG",
        description="Routes/receivers YAML (see alerts/notify/example_config.yaml).",
    )
    public_url: str = Field(
        "http://localhost:8000",
        validation_alias="IOC_PUBLIC_URL",
        description="Base URL of `ioc api` for links in messages (the alert's console page).",
    )
    language: Literal["vi", "en"] = Field(
        "vi", validation_alias="IOC_LANGUAGE", description="Default message language."
    )
    timezone: str = Field(
        "Asia/Ho_Chi_Minh",
        validation_alias="IOC_TIMEZONE",
        description="Time zone for times in messages.",
    )
    tick_slack_s: float = Field(
        0.5,
        ge=0,
        description="Send a group up to this early: a tick landing just before group_wait "
        "ends would otherwise add a whole evaluation period.",
    )
    batch: int = Field(200, ge=1, description="Most notifications sent per deliver call.")
    deliver_budget_s: float = Field(
        10.0, gt=0, description="Seconds one deliver call may spend before returning."
    )
    lease_s: float = Field(
        60.0, gt=0, description="Lease on a row being sent; must exceed channel timeouts."
    )
    backoff_base_s: float = Field(2.0, gt=0, description="First retry delay (seconds).")
    backoff_max_s: float = Field(300.0, gt=0, description="Longest retry delay (seconds).")
    max_attempts: int = Field(
        40, ge=1, description="Attempts before a retryable failure is given up as 'failed'."
    )
    retention_days: float = Field(
        30, gt=0, description="Sent and failed outbox rows are deleted after this many days."
    )
    resend_interrupted: Literal["auto", "always", "never"] = Field(
        "auto",
        description="After a crash mid-send: resend (at-least-once) for channels whose "
        "receivers dedupe by key (auto: webhooks), always, or never (at-most-once).",
    )


@dataclass(frozen=True)
class NotifySetup:
    """Everything notifications read from the environment, one settings class per integration."""

    notify: NotifySettings
    smtp: SmtpSettings
    telegram: TelegramSettings
    zalo: ZaloSettings
