"""One Telegram update: ``/start CODE`` links an account; a button press acts on an alert."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from psycopg_pool import ConnectionPool

from alerts.chatops.acts import Reply, dispatch
from alerts.chatops.signed import Press, decode
from alerts.chatops.texts import text
from alerts.telegram import links
from alerts.telegram.botapi import BotApi
from ioc.oneline import one_line
from ioc.ops.actions import Channel
from ioc.ops.history import audit
from ioc.ratelimit import RateLimiter

log = logging.getLogger(__name__)

CHANNEL: Channel = "telegram"


def _lang(sender: dict[str, Any]) -> str:
    return "en" if str(sender.get("language_code") or "").startswith("en") else "vi"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _id(value: Any) -> int | None:
    """A Telegram user or chat id: an integer (not a bool) that fits a bigint, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**62:
        return value
    return None


class BotHandler:
    """Handles updates with a pool, the Bot API client and the callback MAC key."""

    def __init__(
        self,
        pool: ConnectionPool,
        api: BotApi,
        key: bytes,
        zone: tzinfo,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        link_limit: str = "5/minute;20/hour",
    ) -> None:
        self.pool = pool
        self.api = api
        self.key = key
        self.zone = zone
        self.clock = clock
        # Per chat: a wrong code costs a try; beyond the limit codes are neither checked nor
        # answered, except for one "too many" notice a minute.
        self.link_limiter = RateLimiter(link_limit, namespace="telegram-link")
        self.notice_limiter = RateLimiter("1/minute", namespace="telegram-link-notice")

    def handle(self, update: dict[str, Any]) -> None:
        """Dispatch one update (unknown kinds are ignored)."""
        if isinstance(update.get("callback_query"), dict):
            self.press(update["callback_query"])
        elif isinstance(update.get("message"), dict):
            self.message(update["message"])

    def message(self, message: dict[str, Any]) -> None:
        """``/start CODE`` in a chat with the bot links the sender (throttled per chat)."""
        body = str(message.get("text") or "").strip()
        sender = _dict(message.get("from"))
        chat, sender_id = _id(_dict(message.get("chat")).get("id")), _id(sender.get("id"))
        if not body.startswith("/start") or chat is None or sender_id is None:
            return
        lang = _lang(sender)
        parts = body.split()
        if len(parts) < 2:
            self.api.send(chat, text(lang, "help", channel=CHANNEL))
            return
        if self.link_limiter.hit(f"chat:{chat}"):
            log.info("telegram /start from chat %s throttled", chat)
            if not self.notice_limiter.hit(f"chat:{chat}"):
                self.api.send(chat, text(lang, "throttled"))
            return
        with self.pool.connection() as conn:
            user = links.link(conn, parts[1][:100], sender_id, sender.get("username"))
            if user is not None:
                audit(conn, user.name, "link", "telegram", sender_id, None, {"channel": CHANNEL})
        reply = text(lang, "linked", name=user.name) if user else text(lang, "bad_code")
        self.api.send(chat, reply)

    def press(self, query: dict[str, Any]) -> None:
        """A button press: check the account, role and scope, act, answer, edit the message.

        Every press is answered, also when acting fails; presses on one alert are serialised
        and idempotent (a replay finds the first press's outcome), and resolved alerts refuse
        (``alerts.chatops.acts``).
        """
        sender = _dict(query.get("from"))
        lang = _lang(sender)
        callback_id = str(query.get("id"))[:64]
        press = decode(self.key, query.get("data"))
        sender_id = _id(sender.get("id"))
        if press is None or sender_id is None:
            self.api.answer(callback_id, text(lang, "invalid"), alert=True)
            return
        try:
            reply = self._act(press, sender_id, lang)
        except Exception:
            self.api.answer(callback_id, text(lang, "failed"), alert=True)
            raise
        self.api.answer(callback_id, one_line(reply.text), alert=reply.outcome == "refused")
        if reply.line is not None:
            self._edit(query.get("message"), one_line(reply.line), str(query["data"]))

    def _act(self, press: Press, sender_id: int, lang: str) -> Reply:
        with self.pool.connection() as conn, conn.transaction():
            user = links.principal(conn, sender_id)
            if user is None:
                log.info("button press from unlinked Telegram account %s", sender_id)
            return dispatch(conn, user, press, CHANNEL, self.clock(), self.zone, lang)

    def _edit(self, message: Any, line: str, pressed: str) -> None:
        """Append the outcome to the message; its other buttons stay."""
        if not isinstance(message, dict) or "message_id" not in message:
            return  # an inline-mode message or one too old to carry its body
        chat = (message.get("chat") or {}).get("id")
        if chat is None:
            return
        text = f"{str(message.get('text') or '').rstrip()}\n\n{line}"
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        kept = [
            [b for b in row if isinstance(b, dict) and b.get("callback_data") != pressed]
            for row in rows
            if isinstance(row, list)
        ]
        kept = [row for row in kept if row]
        markup = {"inline_keyboard": kept} if kept else None
        self.api.edit_text(chat, int(message["message_id"]), text, markup)
