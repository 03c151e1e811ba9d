"""Replies of the chat channels, in Vietnamese and English (one catalogue for all of them)."""

from __future__ import annotations

from typing import Any

# What an action line of a message starts with (the reply to a press is the line without it).
ICON = {"ack": "✅", "me": "👤", "s2h": "🔕"}
APPS = {"telegram": ("Telegram", "/start"), "zalo": ("Zalo", "/lienket")}
TEXT = {
    "vi": {
        "unlinked": "Tài khoản {app} này chưa được liên kết. Lấy mã liên kết trong bảng điều "
        "khiển, rồi gửi {command} MÃ.",
        "forbidden": "Tài khoản {name} không có quyền thao tác cảnh báo.",
        "scope": "Cảnh báo #{id} không thuộc phạm vi của bạn.",
        "invalid": "Nút không hợp lệ.",
        "gone": "Cảnh báo #{id} không còn.",
        "resolved": "Cảnh báo #{id} đã khắc phục.",
        "no_device": "Cảnh báo #{id} không gắn với thiết bị nào.",
        "ack": "Đã xác nhận bởi {name} lúc {time}",
        "me": "{name} nhận xử lý lúc {time}",
        "s2h": "Đã tạm tắt {device} 2 giờ, bởi {name} lúc {time}",
        "again": "Đã thực hiện trước đó bởi {name} lúc {time} (#{id}).",
        "linked": "Đã liên kết với tài khoản {name}. Từ nay bạn có thể bấm nút trên tin cảnh báo.",
        "bad_code": "Mã liên kết sai, đã dùng hoặc đã hết hạn. Lấy mã mới trong bảng điều khiển.",
        "help": "Gửi {command} MÃ (lấy mã trong bảng điều khiển) để liên kết tài khoản.",
        "failed": "Không thực hiện được, hãy thử lại hoặc dùng bảng điều khiển.",
        "already_ack": "Cảnh báo #{id} đã được {name} xác nhận.",
        "already_me": "Cảnh báo #{id} đã giao cho {name}.",
        "already_s2h": "{device} đã được tạm tắt đến {time}.",
        "throttled": "Quá nhiều lần thử mã liên kết. Hãy thử lại sau.",
    },
    "en": {
        "unlinked": "This {app} account is not linked. Get a link code in the console, then "
        "send {command} CODE.",
        "forbidden": "User {name} may not act on alerts.",
        "scope": "Alert #{id} is outside your communes.",
        "invalid": "Invalid button.",
        "gone": "Alert #{id} no longer exists.",
        "resolved": "Alert #{id} is already resolved.",
        "no_device": "Alert #{id} has no device.",
        "ack": "Acknowledged by {name} at {time}",
        "me": "Taken by {name} at {time}",
        "s2h": "{device} silenced for 2 h by {name} at {time}",
        "again": "Already done by {name} at {time} (#{id}).",
        "linked": "Linked to user {name}. You can now press the buttons on alert messages.",
        "bad_code": "Wrong, used or expired link code. Get a new one in the console.",
        "help": "Send {command} CODE (from the console) to link your account.",
        "failed": "That did not work; try again or use the console.",
        "already_ack": "Alert #{id} was already acknowledged by {name}.",
        "already_me": "Alert #{id} is already assigned to {name}.",
        "already_s2h": "{device} is already silenced until {time}.",
        "throttled": "Too many link code attempts. Try again later.",
    },
}


def text(lang: str, key: str, *, channel: str = "zalo", **values: Any) -> str:
    """The reply ``key`` in ``lang`` (Vietnamese when unknown), filled in."""
    app, command = APPS.get(channel, APPS["zalo"])
    catalogue = TEXT.get(lang, TEXT["vi"])
    return catalogue[key].format(app=app, command=command, **values)
