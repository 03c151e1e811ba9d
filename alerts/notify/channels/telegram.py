"""Telegram channel: ``sendMessage`` through the bot's client (``alerts.telegram.botapi``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alerts.notify.channels.base import Channel, Context, DeliveryError, Outgoing
from alerts.telegram.botapi import BotApi, BotApiError
from alerts.telegram.callback import key_for, keyboard
from ioc.durations import Duration
from ioc.errors import ConfigError


class TelegramConfig(BaseModel):
    """Telegram Bot API ``sendMessage``; the token comes from an environment variable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chat_id: str | int
    bot_token_env: str | None = None
    api_url: str | None = Field(None, pattern=r"^https?://")
    timeout: Duration = timedelta(seconds=5)
    # Inline buttons (acknowledge, take it, silence 2 h) under firing alerts; presses reach the
    # bot of IOC_TELEGRAM_BOT_TOKEN, which the active alert engine polls.
    buttons: bool = True

    def build(self, ctx: Context) -> TelegramChannel:
        """A Telegram channel with the token of ``bot_token_env``, else ``IOC_TELEGRAM_*``."""
        settings = ctx.settings.telegram
        if self.bot_token_env:
            token = ctx.env("telegram.bot_token_env", self.bot_token_env)
        elif settings.bot_token is not None:
            token = settings.bot_token.get_secret_value()
        else:
            raise ConfigError(
                f"receiver {ctx.receiver!r}: telegram needs bot_token_env or IOC_TELEGRAM_BOT_TOKEN"
            )
        return TelegramChannel(self, token, settings.api_url)


class TelegramChannel(Channel):
    """Sends the rendered text to one chat."""

    def __init__(self, config: TelegramConfig, token: str, api_url: str) -> None:
        self.config = config
        self.api = BotApi(
            config.api_url or api_url, token, timeout_s=config.timeout.total_seconds()
        )
        self.key = key_for(token)

    def send(self, note: Outgoing) -> None:
        """sendMessage; Telegram's ``retry_after`` is honoured on 429 (the token is never told)."""
        try:
            self.api.send(self.config.chat_id, note.rendered.text, self._buttons(note))
        except BotApiError as exc:
            raise DeliveryError(
                f"telegram: {exc}", retryable=exc.retryable, retry_after=exc.retry_after
            ) from None

    def _buttons(self, note: Outgoing) -> dict[str, Any] | None:
        """Buttons for the firing alerts of a firing, reminder or escalation message."""
        if not self.config.buttons or note.kind == "resolved":
            return None
        ids = [
            int(a["id"])
            for a in note.payload.get("alerts", [])
            if a.get("status") == "firing" and isinstance(a.get("id"), int)
        ]
        return keyboard(self.key, ids, note.language)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.api.close()
