"""Telegram and Zalo share ``alerts.chatops``: buttons already sent and link codes already shown
before the switch stay valid (the values below were made by the code before it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from alerts.chatops import links, signed
from alerts.chatops.acts import dispatch
from alerts.notify.templates import local_zone
from alerts.telegram.callback import key_for
from ioc.linkcode import code_digest
from tests.api.conftest import World

TOKEN = "123456:test-secret-token"
SENT_TELEGRAM = {
    "ack": "ack:1099511627776:j4BvfPhHeiS7",
    "me": "me:1099511627776:c6c-U0ZUHzdr",
    "s2h": "s2h:1099511627776:8r3_rtkeSSKb",
}
SENT_ZALO = "ack:42:hKZ8XM6HvqWx"  # derive_key("oa-secret-test", "zalo-button")
SHOWN_CODE = "a00d76646eba91b057841554d5c8334f498dc592ed744bce404f21fe271cd36e"  # "ABCD2345"


def test_payloads_and_codes_made_before_the_switch_stay_valid() -> None:
    key = key_for(TOKEN)
    assert key == signed.derive_key(TOKEN, "telegram-callback")
    for action, data in SENT_TELEGRAM.items():
        assert signed.encode(key, action, 2**40) == data
        assert signed.decode(key, data) == signed.Press(action, 2**40)
    zalo = signed.derive_key("oa-secret-test", "zalo-button")
    assert signed.decode(zalo, SENT_ZALO) == signed.Press("ack", 42)
    assert signed.decode(key, SENT_ZALO) is None
    for code in ("abcd2345", " ABCD2345 "):
        assert code_digest(code).hex() == SHOWN_CODE


def test_decode_refuses_non_ascii_and_ids_beyond_a_bigint() -> None:
    key = key_for(TOKEN)
    for data in (
        "ack:١٢:x",
        "ack:１:x",
        "ack:12:é",
        "ack::x",
        f"ack:{2**63}:x",
        "ack:" + "9" * 20 + ":x",
    ):
        assert signed.decode(key, data) is None
    big = signed.encode(key, "ack", 2**63)  # even with a valid MAC
    assert signed.decode(key, big) is None
    assert signed.decode(key, signed.encode(key, "ack", 2**63 - 1)) == signed.Press(
        "ack", 2**63 - 1
    )


def test_a_silence_pressed_in_one_app_is_found_by_a_press_in_the_other(
    db: psycopg.Connection, world: World
) -> None:
    zone = local_zone("Asia/Ho_Chi_Minh")
    now = datetime.now(UTC)
    (user_id,) = db.execute("SELECT id FROM ioc_auth.users WHERE name = 'tech_a'").fetchone() or (
        0,
    )
    tech_a = links.user(db, user_id)
    press = signed.Press("s2h", world.alerts["a_warn"])
    with db.transaction():
        first = dispatch(db, tech_a, press, "telegram", now, zone, "vi")
    with db.transaction():
        again = dispatch(db, tech_a, press, "zalo", now + timedelta(minutes=5), zone, "vi")
    assert first.done and first.line is not None and first.line.startswith("🔕 Đã tạm tắt")
    assert again.outcome == "already" and "đã được tạm tắt đến" in again.text
    assert db.execute("SELECT comment FROM silences").fetchall() == [
        (f"Telegram: #{press.alert_id}",)
    ]
