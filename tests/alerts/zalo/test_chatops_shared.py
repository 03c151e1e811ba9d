"""``alerts.chatops`` is what Telegram will switch to: same keys, payloads and code digests, so
the switch invalidates no button already sent and no code already shown."""

from __future__ import annotations

from alerts.chatops import links, signed
from alerts.telegram import callback
from alerts.telegram import links as telegram_links
from api.console.telegram import code_digest as console_digest

TOKEN = "123456:test-secret-token"


def test_telegram_payloads_and_codes_match_the_shared_helpers() -> None:
    key = signed.derive_key(TOKEN, "telegram-callback")
    assert key == callback.key_for(TOKEN)
    for action in signed.ACTIONS:
        data = signed.encode(key, action, 2**40)
        assert data == callback.encode(key, action, 2**40)
        assert callback.decode(key, data) == callback.Press(action, 2**40)
        assert signed.decode(key, data) == signed.Press(action, 2**40)
    assert signed.LABELS == callback.LABELS
    for code in ("abcd2345", " ABCD2345 "):
        assert links.code_digest(code) == telegram_links.code_digest(code) == console_digest(code)
