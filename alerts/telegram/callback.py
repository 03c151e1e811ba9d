"""Inline buttons: signed ``callback_data`` (action, alert id, MAC) within Telegram's 64 bytes."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

ACTIONS = ("ack", "me", "s2h")
LABELS = {
    "vi": {"ack": "Xác nhận", "me": "Nhận xử lý", "s2h": "Tạm tắt 2 giờ"},
    "en": {"ack": "Acknowledge", "me": "Take it", "s2h": "Silence 2 h"},
}
MAX_ROWS = 5  # alerts with buttons per message (a storm lists more, acted on in the console)


@dataclass(frozen=True)
class Press:
    """A verified button press: what to do to which alert."""

    action: str
    alert_id: int


def key_for(bot_token: str) -> bytes:
    """The MAC key of callback data, derived from the bot token (never sent)."""
    return hashlib.sha256(b"ioc-telegram-callback:" + bot_token.encode("utf-8")).digest()


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode("ascii")


def encode(key: bytes, action: str, alert_id: int) -> str:
    """``ack:123:MAC`` (at most ~40 bytes)."""
    body = f"{action}:{alert_id}"
    return f"{body}:{_mac(key, body)}"


def decode(key: bytes, data: object) -> Press | None:
    """The press named by ``data`` when its MAC holds, else None (never raises)."""
    if not isinstance(data, str) or not data or len(data) > 64:
        return None
    if not data.isascii():  # e.g. non-ASCII digits: str.isdigit() says yes, the MAC cannot
        return None
    parts = data.split(":")
    if len(parts) != 3 or parts[0] not in ACTIONS:
        return None
    if not (parts[1].isdigit() and 0 < len(parts[1]) <= 19 and int(parts[1]) < 2**63):
        return None
    body = f"{parts[0]}:{parts[1]}"
    if not hmac.compare_digest(_mac(key, body), parts[2]):
        return None
    return Press(parts[0], int(parts[1]))


def keyboard(key: bytes, alert_ids: list[int], lang: str) -> dict[str, Any] | None:
    """The inline keyboard of a message about these firing alerts (None when there are none)."""
    labels = LABELS.get(lang, LABELS["vi"])
    rows = []
    shown = alert_ids[:MAX_ROWS]
    for alert_id in shown:
        suffix = f" #{alert_id}" if len(shown) > 1 else ""
        rows.append(
            [
                {"text": labels[a] + suffix, "callback_data": encode(key, a, alert_id)}
                for a in ACTIONS
            ]
        )
    return {"inline_keyboard": rows} if rows else None
