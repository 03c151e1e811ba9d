"""Telegram bot settings (``IOC_TELEGRAM_*``): the channel's token and the bot's receiver."""

from __future__ import annotations

from pydantic import Field, SecretStr

from ioc.settings import AreaSettings, env_config


class TelegramSettings(AreaSettings):
    """The bot that sends alerts and receives button presses and link codes."""

    model_config = env_config("IOC_TELEGRAM_")

    bot_token: SecretStr | None = Field(None, description="Telegram bot token.")
    api_url: str = Field(
        "https://api.telegram.org", description="Telegram Bot API base URL (tests: loopback)."
    )
    receive: bool = Field(
        True,
        description="With IOC_TELEGRAM_BOT_TOKEN set, the active alert engine receives button "
        "presses and /start link codes by long polling getUpdates (no public URL needed).",
    )
    poll_timeout_s: int = Field(
        25, ge=0, le=50, description="Long-poll timeout of getUpdates, in seconds."
    )
    webhook_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Webhook mode instead of long polling: the public URL Telegram posts "
        "updates to (your reverse proxy, forwarding to IOC_TELEGRAM_WEBHOOK_LISTEN); the "
        "active engine registers it with setWebhook.",
    )
    webhook_listen: str = Field(
        "127.0.0.1:8443",
        pattern=r"^[^:\s]+:[0-9]{1,5}$",
        description="host:port where `ioc alerts` accepts webhook updates (webhook mode only).",
    )
    webhook_max_connections: int = Field(
        64, ge=1, description="Open connections the webhook listener serves; more get 503."
    )
    webhook_deadline_s: float = Field(
        10.0,
        gt=0,
        description="Seconds a webhook request has for its headers and body (slow clients "
        "are cut off).",
    )
    answer_max_bytes: int = Field(
        4_000_000,
        ge=10_000,
        description="Largest Bot API answer read (getUpdates included); a larger one is "
        "dropped unread and the call fails.",
    )
    link_rate_limit: str = Field(
        "5/minute;20/hour",
        description="/start link attempts allowed per Telegram chat (`limits` notation); "
        "beyond them codes are not checked and not answered.",
    )
