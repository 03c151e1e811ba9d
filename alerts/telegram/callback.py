"""Inline buttons: signed ``callback_data`` (``alerts.chatops.signed``) within Telegram's 64 bytes."""

from __future__ import annotations

from typing import Any

from alerts.chatops.signed import ACTIONS, LABELS, derive_key, encode

MAX_ROWS = 5  # alerts with buttons per message (a storm lists more, acted on in the console)


def key_for(bot_token: str) -> bytes:
    """The MAC key of callback data, derived from the bot token (never sent)."""
    return derive_key(bot_token, "telegram-callback")


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
