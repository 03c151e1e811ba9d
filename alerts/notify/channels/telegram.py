"""Telegram channel: Bot API ``sendMessage`` (plain text, UTF-8 JSON)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import httpx
from pydantic import BaseModel, ConfigDict, Field

from alerts.notify.channels.base import (
    Channel,
    Context,
    DeliveryError,
    Outgoing,
    http_status_error,
    http_transport_error,
)
from alerts.telegram.callback import key_for, keyboard
from ioc.durations import Duration
from ioc.errors import ConfigError

MAX_TEXT = 4096


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
        settings = ctx.settings
        if self.bot_token_env:
            token = ctx.env("telegram.bot_token_env", self.bot_token_env)
        elif settings.telegram_bot_token is not None:
            token = settings.telegram_bot_token.get_secret_value()
        else:
            raise ConfigError(
                f"receiver {ctx.receiver!r}: telegram needs bot_token_env or IOC_TELEGRAM_BOT_TOKEN"
            )
        return TelegramChannel(self, token, settings.telegram_api_url)


class _RedactToken(logging.Filter):
    """httpx logs request URLs at INFO; the bot token is part of the URL."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage().replace(self.token, "***")
            record.args = None
        return True


class TelegramChannel(Channel):
    """Sends the rendered text to one chat."""

    def __init__(self, config: TelegramConfig, token: str, api_url: str) -> None:
        self.config = config
        self.token = token
        self.url = f"{(config.api_url or api_url).rstrip('/')}/bot{token}/sendMessage"
        self.client = httpx.Client(timeout=config.timeout.total_seconds())
        self.key = key_for(token)
        self._filter = _RedactToken(token)
        logging.getLogger("httpx").addFilter(self._filter)

    def send(self, note: Outgoing) -> None:
        """POST sendMessage; Telegram's ``retry_after`` is honoured on 429."""
        text = note.rendered.text
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - 1] + "…"
        body: dict[str, object] = {
            "chat_id": self.config.chat_id,
            "text": text,
            "disable_web_page_preview": True,
        }
        markup = self._buttons(note)
        if markup is not None:
            body["reply_markup"] = markup
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            response = self.client.post(
                self.url, content=data, headers={"Content-Type": "application/json; charset=utf-8"}
            )
        except httpx.HTTPError as exc:
            raise self._redact(http_transport_error(exc, "telegram")) from None
        if response.is_success:
            return
        error = http_status_error(response, "telegram")
        try:
            retry_after = response.json().get("parameters", {}).get("retry_after")
        except (ValueError, AttributeError):
            retry_after = None
        if retry_after is not None and error.retry_after is None:
            error.retry_after = float(retry_after)
        raise self._redact(error)

    def _buttons(self, note: Outgoing) -> dict[str, object] | None:
        """Buttons for the firing alerts of a firing, reminder or escalation message."""
        if not self.config.buttons or note.kind == "resolved":
            return None
        ids = [
            int(a["id"])
            for a in note.payload.get("alerts", [])
            if a.get("status") == "firing" and isinstance(a.get("id"), int)
        ]
        return keyboard(self.key, ids, note.language)

    def _redact(self, error: DeliveryError) -> DeliveryError:
        """Never let the bot token reach logs or the outbox's ``last_error``."""
        error.reason = error.reason.replace(self.token, "***")
        error.args = (error.reason,)
        return error

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.client.close()
        logging.getLogger("httpx").removeFilter(self._filter)
