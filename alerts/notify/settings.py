"""Notification settings from ``IOC_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from ioc.settings import ENV_CONFIG


class NotifySettings(BaseSettings):
    """Routes file, links, language and channel credentials for notifications."""

    model_config = ENV_CONFIG

    alerts_config: Path | None = Field(
        None, description="Routes/receivers YAML (see alerts/notify/example_config.yaml)."
    )
    public_url: str = Field(
        "http://localhost:8000",
        description="Base URL of `ioc api` for links in messages (the alert's console page).",
    )
    language: Literal["vi", "en"] = Field("vi", description="Default message language.")
    timezone: str = Field("Asia/Ho_Chi_Minh", description="Time zone for times in messages.")
    smtp_host: str = Field("localhost", description="SMTP server host.")
    smtp_port: int = Field(25, description="SMTP server port.")
    smtp_starttls: bool = Field(False, description="Use STARTTLS on the SMTP connection.")
    smtp_user: str | None = Field(None, description="SMTP login user (none: no login).")
    smtp_password: SecretStr | None = Field(None, description="SMTP login password.")
    smtp_from: str = Field("ioc@localhost", description="Default sender address of e-mails.")
    telegram_bot_token: SecretStr | None = Field(None, description="Telegram bot token.")
    telegram_api_url: str = Field(
        "https://api.telegram.org", description="Telegram Bot API base URL (tests: loopback)."
    )
    telegram_receive: bool = Field(
        True,
        description="With IOC_TELEGRAM_BOT_TOKEN set, the active alert engine receives button "
        "presses and /start link codes by long polling getUpdates (no public URL needed).",
    )
    telegram_poll_timeout_s: int = Field(
        25, ge=0, le=50, description="Long-poll timeout of getUpdates, in seconds."
    )
    telegram_webhook_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Webhook mode instead of long polling: the public URL Telegram posts "
        "updates to (your reverse proxy, forwarding to IOC_TELEGRAM_WEBHOOK_LISTEN); the "
        "active engine registers it with setWebhook.",
    )
    telegram_webhook_listen: str = Field(
        "127.0.0.1:8443",
        pattern=r"^[^:\s]+:[0-9]{1,5}$",
        description="host:port where `ioc alerts` accepts webhook updates (webhook mode only).",
    )
    telegram_webhook_max_connections: int = Field(
        64, ge=1, description="Open connections the webhook listener serves; more get 503."
    )
    telegram_webhook_deadline_s: float = Field(
        10.0,
        gt=0,
        description="Seconds a webhook request has for its headers and body (slow clients "
        "are cut off).",
    )
    telegram_answer_max_bytes: int = Field(
        4_000_000,
        ge=10_000,
        description="Largest Bot API answer read (getUpdates included); a larger one is "
        "dropped unread and the call fails.",
    )
    telegram_link_rate_limit: str = Field(
        "5/minute;20/hour",
        description="/start link attempts allowed per Telegram chat (`limits` notation); "
        "beyond them codes are not checked and not answered.",
    )
    notify_tick_slack_s: float = Field(
        0.5,
        ge=0,
        description="Send a group up to this early: a tick landing just before group_wait "
        "ends would otherwise add a whole evaluation period.",
    )
    notify_batch: int = Field(200, ge=1, description="Most notifications sent per deliver call.")
    notify_deliver_budget_s: float = Field(
        10.0, gt=0, description="Seconds one deliver call may spend before returning."
    )
    notify_lease_s: float = Field(
        60.0, gt=0, description="Lease on a row being sent; must exceed channel timeouts."
    )
    notify_backoff_base_s: float = Field(2.0, gt=0, description="First retry delay (seconds).")
    notify_backoff_max_s: float = Field(300.0, gt=0, description="Longest retry delay (seconds).")
    notify_max_attempts: int = Field(
        40, ge=1, description="Attempts before a retryable failure is given up as 'failed'."
    )
    notify_retention_days: float = Field(
        30, gt=0, description="Sent and failed outbox rows are deleted after this many days."
    )
    notify_resend_interrupted: Literal["auto", "always", "never"] = Field(
        "auto",
        description="After a crash mid-send: resend (at-least-once) for channels whose "
        "receivers dedupe by key (auto: webhooks), always, or never (at-most-once).",
    )
    zalo_app_id: str | None = Field(
        None, description="Zalo app id (Zalo for Developers); enables the Zalo channel."
    )
    zalo_app_secret: SecretStr | None = Field(
        None, description="The Zalo app's secret key (sent as `secret_key` to refresh tokens)."
    )
    zalo_oa_secret: SecretStr | None = Field(
        None,
        description="The OA secret key of the app's OA link: verifies X-ZEvent-Signature on "
        "webhook events and keys the buttons' MACs.",
    )
    zalo_refresh_token: SecretStr | None = Field(
        None,
        description="First OA refresh token, used only while the database holds none; later "
        "ones rotate in ioc_auth.zalo_tokens.",
    )
    zalo_api_url: str = Field(
        "https://openapi.zalo.me", description="Zalo OA Open API base URL (tests: loopback)."
    )
    zalo_oauth_url: str = Field(
        "https://oauth.zaloapp.com", description="Zalo OAuth base URL (token refresh)."
    )
    zalo_zns_url: str = Field(
        "https://business.openapi.zalo.me",
        description="Zalo template notification (ZNS) API base URL.",
    )
    zalo_webhook_listen: str | None = Field(
        None,
        pattern=r"^[^:\s]+:[0-9]{1,5}$",
        description="host:port where `ioc alerts` accepts Zalo webhook events (behind your "
        "HTTPS reverse proxy); none: no two-way Zalo.",
    )
    zalo_webhook_path: str = Field("/hooks/zalo", description="Path of the Zalo webhook.")
    zalo_window_hours: float = Field(
        48, gt=0, description="Free replies reach a user this long after their last message."
    )
    zalo_event_max_age_s: float = Field(
        300, gt=0, description="Webhook events whose timestamp is further off are refused."
    )
    zalo_token_margin_s: float = Field(
        3600, ge=0, description="Refresh the OA access token this long before it expires."
    )
    zalo_inbox_interval_s: float = Field(
        0.5, gt=0, description="How often the webhook worker looks for queued events."
    )
