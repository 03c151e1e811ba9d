"""Telegram and Zalo share ``alerts.chatops``: buttons already sent and link codes already shown
before the switch stay valid (the values below were made by the code before it)."""

from __future__ import annotations

from alerts.chatops import signed
from alerts.telegram.callback import key_for
from ioc.linkcode import code_digest

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
