"""Button payloads ``action:alert_id:MAC``: short, and refused when forged or altered.

Telegram (``callback_data``) and Zalo (``oa.query.hide`` payloads) carry the same payloads,
each under its own key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

ACTIONS = ("ack", "me", "s2h")
LABELS = {
    "vi": {"ack": "Xác nhận", "me": "Nhận xử lý", "s2h": "Tạm tắt 2 giờ"},
    "en": {"ack": "Acknowledge", "me": "Take it", "s2h": "Silence 2 h"},
}
MAX_LENGTH = 64  # Telegram's callback_data limit; Zalo payloads stay within it too


@dataclass(frozen=True)
class Press:
    """A verified button press: what to do to which alert."""

    action: str
    alert_id: int


def derive_key(secret: str, purpose: str) -> bytes:
    """A MAC key for ``purpose`` (e.g. ``zalo-button``) derived from a channel secret."""
    return hashlib.sha256(f"ioc-{purpose}:".encode() + secret.encode("utf-8")).digest()


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode("ascii")


def encode(key: bytes, action: str, alert_id: int) -> str:
    """``ack:123:MAC`` (at most ~40 bytes)."""
    body = f"{action}:{alert_id}"
    return f"{body}:{_mac(key, body)}"


def decode(key: bytes, data: object) -> Press | None:
    """The press named by ``data`` when its MAC holds, else None (never raises).

    Only ASCII is looked at (``str.isdigit`` accepts other scripts' digits, the MAC cannot),
    and the alert id must fit a bigint.
    """
    if not isinstance(data, str) or not data or len(data) > MAX_LENGTH or not data.isascii():
        return None
    parts = data.strip().split(":")
    if len(parts) != 3 or parts[0] not in ACTIONS:
        return None
    if not (parts[1].isdigit() and len(parts[1]) <= 19 and int(parts[1]) < 2**63):
        return None
    body = f"{parts[0]}:{parts[1]}"
    if not hmac.compare_digest(_mac(key, body), parts[2]):
        return None
    return Press(parts[0], int(parts[1]))
