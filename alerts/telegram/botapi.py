"""A small Telegram Bot API client (getUpdates, answerCallbackQuery, editMessageText, ...)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx

log = logging.getLogger(__name__)


class BotApiError(Exception):
    """The Bot API refused a call or could not be reached (the token is never in the text)."""


class _TooSlowOrLarge(Exception):
    """An answer went past the byte cap or the call's deadline while being read."""


class BotApi:
    """Calls ``{api_url}/bot{token}/{method}`` with UTF-8 JSON bodies.

    An answer is streamed: more than ``max_bytes``, or not complete within the call's timeout
    (however slowly it drips), fails the call instead of growing memory or stalling the bot.
    """

    def __init__(
        self, api_url: str, token: str, timeout_s: float = 10.0, max_bytes: int = 4_000_000
    ) -> None:
        self.token = token
        self.base = f"{api_url.rstrip('/')}/bot{token}"
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.client = httpx.Client(timeout=timeout_s)

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise _TooSlowOrLarge(f"answer of {declared} bytes is over {self.max_bytes}")
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > self.max_bytes:
                raise _TooSlowOrLarge(f"answer larger than {self.max_bytes} bytes")
            if time.monotonic() > deadline:
                raise _TooSlowOrLarge("answer not complete within the call's timeout")
        return bytes(body)

    @property
    def bot_id(self) -> str:
        """The numeric part of the token (names the bot, is not a secret)."""
        return self.token.split(":", 1)[0]

    def call(self, method: str, body: dict[str, Any], timeout_s: float | None = None) -> Any:
        """POST one method; return its ``result`` or raise ``BotApiError``."""
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        limit = timeout_s if timeout_s is not None else self.timeout_s
        deadline = time.monotonic() + limit
        try:
            with self.client.stream(
                "POST",
                f"{self.base}/{method}",
                content=data,
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=limit,
            ) as response:
                answer = json.loads(self._read(response, deadline))
        except (httpx.HTTPError, ValueError, RecursionError, _TooSlowOrLarge) as exc:
            reason = f"{method}: {type(exc).__name__}: {exc}".replace(self.token, "***")
            raise BotApiError(reason) from None
        if not isinstance(answer, dict) or not answer.get("ok"):
            text = str(answer.get("description") if isinstance(answer, dict) else answer)
            raise BotApiError(
                f"{method}: HTTP {response.status_code}: {text[:200]}".replace(self.token, "***")
            )
        return answer.get("result")

    def get_updates(self, offset: int, timeout_s: int) -> list[dict[str, Any]]:
        """Long-poll for button presses and messages after ``offset``."""
        result = self.call(
            "getUpdates",
            {
                "offset": offset,
                "timeout": timeout_s,
                "allowed_updates": ["message", "callback_query"],
            },
            timeout_s=timeout_s + 10,
        )
        return [u for u in result or [] if isinstance(u, dict)]

    def answer(self, callback_id: str, text: str, alert: bool = False) -> None:
        """The small pop-up reply to a button press."""
        self.call(
            "answerCallbackQuery",
            {"callback_query_id": callback_id, "text": text[:200], "show_alert": alert},
        )

    def edit_text(
        self, chat_id: int, message_id: int, text: str, markup: dict[str, Any] | None
    ) -> None:
        """Replace a message's text (keeping its buttons when ``markup`` is given)."""
        body: dict[str, Any] = {
            "chat_id": chat_id,
            "message_id": message_id,
            "text": text[:4096],
            "disable_web_page_preview": True,
        }
        if markup:
            body["reply_markup"] = markup
        self.call("editMessageText", body)

    def send(self, chat_id: int, text: str) -> None:
        """A plain message to a chat."""
        self.call("sendMessage", {"chat_id": chat_id, "text": text[:4096]})

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()
