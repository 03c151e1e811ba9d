"""The one Telegram Bot API client: sendMessage (alert notifications and the bot's replies),
getUpdates, answerCallbackQuery, editMessageText, setWebhook.

A failed call says whether it is worth a retry (transport errors, timeouts, HTTP 5xx, 408,
425 and 429, with Telegram's ``retry_after``), so the notification channel can back off.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from typing import Any

import httpx

log = logging.getLogger(__name__)

MAX_TEXT = 4096
RETRY_STATUSES = (408, 425, 429)


class BotApiError(Exception):
    """The Bot API refused a call or could not be reached (the token is never in the text).

    ``retryable`` says whether a later attempt may succeed; ``retry_after`` is Telegram's
    requested wait (``parameters.retry_after``, else the ``Retry-After`` header) in seconds.
    """

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


class _TooSlowOrLarge(Exception):
    """An answer went past the byte cap or the call's deadline while being read."""


class _RedactTokens(logging.Filter):
    """httpx logs request URLs at INFO; the bot token is part of the URL.

    One filter for every client (a filter per client would format a record first and leave
    the others nothing to redact).
    """

    def __init__(self) -> None:
        super().__init__()
        self.tokens: Counter[str] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = message
        for token in list(self.tokens):
            hidden = hidden.replace(token, "***")
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


_REDACT = _RedactTokens()


def _retry_after(answer: object, headers: httpx.Headers) -> float | None:
    params = answer.get("parameters") if isinstance(answer, dict) else None
    value = params.get("retry_after") if isinstance(params, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(0.0, float(value))
    header = headers.get("Retry-After", "").strip()
    return float(header) if header.isascii() and header.isdigit() else None


def clip(text: str) -> str:
    """A message text within Telegram's 4096 characters (cut with an ellipsis)."""
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


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
        httpx_log = logging.getLogger("httpx")
        if _REDACT not in httpx_log.filters:
            httpx_log.addFilter(_REDACT)
        _REDACT.tokens[token] += 1
        self._closed = False

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
                raw = self._read(response, deadline)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise self._error(f"{method}: invalid URL: {exc}", retryable=False) from None
        except (httpx.HTTPError, _TooSlowOrLarge) as exc:
            raise self._error(f"{method}: {type(exc).__name__}: {exc}", retryable=True) from None
        status = response.status_code
        try:
            answer = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise self._error(
                f"{method}: HTTP {status}: answer is not JSON ({type(exc).__name__})",
                retryable=status >= 500 or status in RETRY_STATUSES,
                status=status,
            ) from None
        if not isinstance(answer, dict) or not answer.get("ok"):
            text = str(answer.get("description") if isinstance(answer, dict) else answer)
            raise self._error(
                f"{method}: HTTP {status}: {text[:200]}",
                retryable=status >= 500 or status in RETRY_STATUSES,
                status=status,
                retry_after=_retry_after(answer, response.headers),
            )
        return answer.get("result")

    def _error(self, reason: str, **how: Any) -> BotApiError:
        return BotApiError(reason.replace(self.token, "***"), **how)

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
            "text": clip(text),
            "disable_web_page_preview": True,
        }
        if markup:
            body["reply_markup"] = markup
        self.call("editMessageText", body)

    def send(
        self, chat_id: int | str, text: str, markup: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A message to a chat (with inline buttons when ``markup`` is given); the message."""
        body: dict[str, Any] = {
            "chat_id": chat_id,
            "text": clip(text),
            "disable_web_page_preview": True,
        }
        if markup:
            body["reply_markup"] = markup
        result = self.call("sendMessage", body)
        return result if isinstance(result, dict) else {}

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()
        if not self._closed:  # the token stays hidden while another client uses it
            self._closed = True
            _REDACT.tokens[self.token] -= 1
            if _REDACT.tokens[self.token] <= 0:
                del _REDACT.tokens[self.token]
