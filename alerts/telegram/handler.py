"""One Telegram update: ``/start CODE`` links an account; a button press acts on an alert."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from psycopg_pool import ConnectionPool

from alerts.telegram import acts, links
from alerts.telegram.botapi import BotApi
from alerts.telegram.callback import decode
from ioc.actions import audit

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
    },
}
ICON = {"ack": "✅", "me": "👤", "s2h": "🔕"}


def _lang(sender: dict[str, Any]) -> str:
    return "en" if str(sender.get("language_code") or "").startswith("en") else "vi"


class BotHandler:
    """Handles updates with a pool, the Bot API client and the callback MAC key."""

    def __init__(
        self,
        pool: ConnectionPool,
        api: BotApi,
        key: bytes,
        zone: tzinfo,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.pool = pool
        self.api = api
        self.key = key
        self.zone = zone
        self.clock = clock

    def handle(self, update: dict[str, Any]) -> None:
        """Dispatch one update (unknown kinds are ignored)."""
        if isinstance(update.get("callback_query"), dict):
            self.press(update["callback_query"])
        elif isinstance(update.get("message"), dict):
            self.message(update["message"])

    def message(self, message: dict[str, Any]) -> None:
        """``/start CODE`` in a chat with the bot links the sender."""
        text = str(message.get("text") or "").strip()
        sender = message.get("from") or {}
        chat = (message.get("chat") or {}).get("id")
        if not text.startswith("/start") or chat is None or "id" not in sender:
            return
        t = TEXT[_lang(sender)]
        parts = text.split()
        if len(parts) < 2:
            self.api.send(chat, t["help"])
            return
        with self.pool.connection() as conn:
            user = links.link(conn, parts[1], int(sender["id"]), sender.get("username"))
            if user is not None:
                audit(
                    conn, user.name, "link", "telegram", sender["id"], None, {"channel": "telegram"}
                )
        self.api.send(chat, t["linked"].format(name=user.name) if user else t["bad_code"])

    def press(self, query: dict[str, Any]) -> None:
        """A button press: check the account, role and scope, act, answer, edit the message."""
        sender = query.get("from") or {}
        t = TEXT[_lang(sender)]
        callback_id = str(query.get("id"))
        press = decode(self.key, query.get("data"))
        if press is None or "id" not in sender:
            self.api.answer(callback_id, t["invalid"], alert=True)
            return
        with self.pool.connection() as conn:
            user = links.principal(conn, int(sender["id"]))
            if user is None:
                log.info("button press from unlinked Telegram account %s", sender.get("id"))
                self.api.answer(callback_id, t["unlinked"], alert=True)
                return
            alert = acts.load(conn, press.alert_id)
            if not user.can("technician"):
                self.api.answer(callback_id, t["forbidden"].format(name=user.name), alert=True)
                return
            if alert is None or not user.sees(alert.commune_code):
                key = "gone" if alert is None else "scope"
                self.api.answer(callback_id, t[key].format(id=press.alert_id), alert=True)
                return
            now = self.clock()
            if press.action == "ack":
                done = acts.acknowledge(conn, user, alert, "Telegram", now)
            elif press.action == "me":
                done = acts.assign_to_self(conn, user, alert, now)
            elif alert.device_id is None:
                self.api.answer(callback_id, t["no_device"].format(id=alert.id), alert=True)
                return
            else:
                acts.silence_device(conn, user, alert, now)
                done = True
        if not done:
            self.api.answer(callback_id, t["resolved"].format(id=alert.id), alert=True)
            return
        status = t[press.action].format(
            name=user.name,
            time=now.astimezone(self.zone).strftime("%H:%M %d/%m/%Y"),
            device=alert.device_name or alert.device_id,
        )
        self.api.answer(callback_id, status)
        self._edit(
            query.get("message"), f"{ICON[press.action]} {status} (#{alert.id})", query["data"]
        )

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
