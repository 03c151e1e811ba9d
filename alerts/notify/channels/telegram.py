"""Telegram channel: ``sendMessage`` through the bot's client (``alerts.telegram.botapi``)."""

from __future__ import annotations

from typing import Any

from alerts.notify.channels.base import Channel, DeliveryError, Outgoing
from alerts.notify.config import TelegramConfig
from alerts.telegram.botapi import BotApi, BotApiError
from alerts.telegram.callback import key_for, keyboard


class TelegramChannel(Channel):
    """Sends the rendered text to one chat."""

    kind = "telegram"

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
