"""One Telegram update: ``/start CODE`` links an account; a button press acts on an alert."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from psycopg_pool import ConnectionPool

from alerts.telegram import acts, links
from alerts.telegram.botapi import BotApi
from alerts.telegram.callback import Press, decode
from ioc.oneline import one_line
from ioc.ops.actions import ActionRefused
from ioc.ops.history import audit
from ioc.ratelimit import RateLimiter

log = logging.getLogger(__name__)

TEXT = {
    "vi": {
        "unlinked": "Tài khoản Telegram này chưa được liên kết. Mở trang Telegram trong bảng "
        "điều khiển để lấy mã, rồi gửi /start MÃ cho bot.",
        "forbidden": "Tài khoản {name} không có quyền thao tác cảnh báo.",
        "scope": "Cảnh báo #{id} không thuộc phạm vi của bạn.",
        "invalid": "Nút không hợp lệ.",
        "gone": "Cảnh báo #{id} không còn.",
        "resolved": "Cảnh báo #{id} đã khắc phục.",
        "no_device": "Cảnh báo #{id} không gắn với thiết bị nào.",
        "ack": "Đã xác nhận bởi {name} lúc {time}",
        "me": "{name} nhận xử lý lúc {time}",
        "s2h": "Đã tạm tắt {device} 2 giờ, bởi {name} lúc {time}",
        "linked": "Đã liên kết với tài khoản {name}. Từ nay bạn có thể bấm nút trên tin cảnh báo.",
        "bad_code": "Mã liên kết sai, đã dùng hoặc đã hết hạn. Lấy mã mới trong bảng điều khiển.",
        "help": "Gửi /start MÃ (lấy mã trong trang Telegram của bảng điều khiển) để liên kết.",
        "failed": "Không thực hiện được, hãy thử lại hoặc dùng bảng điều khiển.",
        "already_ack": "Cảnh báo #{id} đã được {name} xác nhận.",
        "already_me": "Cảnh báo #{id} đã giao cho {name}.",
        "already_s2h": "{device} đã được tạm tắt đến {time}.",
        "throttled": "Quá nhiều lần thử mã liên kết. Hãy thử lại sau.",
    },
    "en": {
        "unlinked": "This Telegram account is not linked. Open the console's Telegram page for "
        "a code, then send /start CODE to the bot.",
        "forbidden": "User {name} may not act on alerts.",
        "scope": "Alert #{id} is outside your communes.",
        "invalid": "Invalid button.",
        "gone": "Alert #{id} no longer exists.",
        "resolved": "Alert #{id} is already resolved.",
        "no_device": "Alert #{id} has no device.",
        "ack": "Acknowledged by {name} at {time}",
        "me": "Taken by {name} at {time}",
        "s2h": "{device} silenced for 2 h by {name} at {time}",
        "linked": "Linked to user {name}. You can now press the buttons on alert messages.",
        "bad_code": "Wrong, used or expired link code. Get a new one in the console.",
        "help": "Send /start CODE (from the console's Telegram page) to link your account.",
        "failed": "That did not work; try again or use the console.",
        "already_ack": "Alert #{id} was already acknowledged by {name}.",
        "already_me": "Alert #{id} is already assigned to {name}.",
        "already_s2h": "{device} is already silenced until {time}.",
        "throttled": "Too many link code attempts. Try again later.",
    },
}
ICON = {"ack": "✅", "me": "👤", "s2h": "🔕"}


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
        text = str(message.get("text") or "").strip()
        sender = _dict(message.get("from"))
        chat, sender_id = _id(_dict(message.get("chat")).get("id")), _id(sender.get("id"))
        if not text.startswith("/start") or chat is None or sender_id is None:
            return
        t = TEXT[_lang(sender)]
        parts = text.split()
        if len(parts) < 2:
            self.api.send(chat, t["help"])
            return
        if self.link_limiter.hit(f"chat:{chat}"):
            log.info("telegram /start from chat %s throttled", chat)
            if not self.notice_limiter.hit(f"chat:{chat}"):
                self.api.send(chat, t["throttled"])
            return
        with self.pool.connection() as conn:
            user = links.link(conn, parts[1][:100], sender_id, sender.get("username"))
            if user is not None:
                audit(conn, user.name, "link", "telegram", sender_id, None, {"channel": "telegram"})
        self.api.send(chat, t["linked"].format(name=user.name) if user else t["bad_code"])

    def press(self, query: dict[str, Any]) -> None:
        """A button press: check the account, role and scope, act, answer, edit the message.

        Every press is answered, also when acting fails; presses on one alert are serialised
        and idempotent (a replay finds the first press's outcome), and resolved alerts refuse.
        """
        sender = _dict(query.get("from"))
        t = TEXT[_lang(sender)]
        callback_id = str(query.get("id"))[:64]
        press = decode(self.key, query.get("data"))
        sender_id = _id(sender.get("id"))
        if press is None or sender_id is None:
            self.api.answer(callback_id, t["invalid"], alert=True)
            return
        try:
            answer, popup, line = self._act(press, sender_id, t)
        except Exception:
            self.api.answer(callback_id, t["failed"], alert=True)
            raise
        self.api.answer(callback_id, one_line(answer), alert=popup)
        if line is not None:
            self._edit(query.get("message"), one_line(line), str(query["data"]))

    def _act(self, press: Press, sender_id: int, t: dict[str, str]) -> tuple[str, bool, str | None]:
        """(answer, as a pop-up, line to append to the message or None)."""
        with self.pool.connection() as conn, conn.transaction():
            user = links.principal(conn, sender_id)
            if user is None:
                log.info("button press from unlinked Telegram account %s", sender_id)
                return t["unlinked"], True, None
            if not user.can("technician"):
                return t["forbidden"].format(name=user.name), True, None
            acts.lock(conn, press.alert_id)
            alert = acts.load(conn, press.alert_id)
            if alert is None or not user.sees(alert.commune_code):
                key = "gone" if alert is None else "scope"
                return t[key].format(id=press.alert_id), True, None
            if alert.state == "resolved":
                return t["resolved"].format(id=alert.id), True, None
            now = self.clock()
            when = now.astimezone(self.zone).strftime("%H:%M %d/%m/%Y")
            device = alert.device_name or alert.device_id
            if press.action == "ack":
                if alert.acknowledged_by is not None:
                    return (
                        t["already_ack"].format(id=alert.id, name=alert.acknowledged_by),
                        False,
                        None,
                    )
                done = acts.acknowledge(conn, user, alert, "Telegram", now)
            elif press.action == "me":
                if alert.assignee == user.name:
                    return t["already_me"].format(id=alert.id, name=user.name), False, None
                try:
                    done = acts.assign_to_self(conn, user, alert, now)
                except ActionRefused as exc:
                    return exc.message, True, None
            elif alert.device_id is None:
                return t["no_device"].format(id=alert.id), True, None
            else:
                _, ends, created = acts.silence_device(conn, user, alert, now)
                if not created:
                    until = ends.astimezone(self.zone).strftime("%H:%M %d/%m/%Y")
                    return t["already_s2h"].format(device=device, time=until), False, None
                done = True
        if not done:
            return t["resolved"].format(id=alert.id), True, None
        status = t[press.action].format(name=user.name, time=when, device=device)
        return status, False, f"{ICON[press.action]} {status} (#{alert.id})"

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
