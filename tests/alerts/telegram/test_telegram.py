"""Two-way Telegram against a fake Bot API: link, press, act, answer, edit; refusals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from alerts.chatops.signed import decode, encode
from alerts.notify.channels.base import DeliveryError, Outgoing
from alerts.notify.channels.telegram import TelegramChannel
from alerts.notify.config import TelegramConfig
from alerts.notify.templates import Rendered, local_zone
from alerts.telegram.botapi import BotApi
from alerts.telegram.callback import key_for
from alerts.telegram.handler import BotHandler
from alerts.telegram.receiver import TelegramReceiver
from alerts.telegram.webhook import WebhookReceiver
from ioc.ports import free_port
from tests.alerts.notify.helpers import HttpReceiver
from tests.alerts.telegram.conftest import CHAT, TOKEN
from tests.alerts.telegram.fakebot import FakeBotApi
from tests.api.conftest import World
from tests.util import wait_until

TECH_A_TG = 555001


def _linked(
    bot: FakeBotApi, db: psycopg.Connection, link_code: Callable[[str], str], name: str, tg: int
) -> None:
    bot.say(tg, f"/start {link_code(name)}")
    wait_until(lambda: any("Đã liên kết" in t for t in bot.sent_to(tg)), 10, message="link reply")
    row = db.execute(
        "SELECT u.name FROM ioc_auth.telegram_links l JOIN ioc_auth.users u ON u.id = l.user_id "
        "WHERE l.telegram_user_id = %s",
        (tg,),
    ).fetchone()
    assert row == (name,)


def _button(bot: FakeBotApi, message: int, action: str, alert: int) -> str:
    for b in bot.buttons(message):
        press = decode(key_for(TOKEN), b["callback_data"])
        if press is not None and (press.action, press.alert_id) == (action, alert):
            return b["callback_data"]
    raise AssertionError(f"no {action} button for alert {alert}")


def test_callback_data_is_signed_and_short() -> None:
    key = key_for(TOKEN)
    data = encode(key, "ack", 2**62)
    assert len(data.encode()) <= 64
    assert decode(key, data) is not None
    assert decode(key, data.replace("ack", "s2h")) is None
    assert decode(key_for("other:token"), data) is None
    assert decode(key, "ack:1") is None


def test_message_carries_the_three_buttons(
    bot: FakeBotApi, world: World, notify: Callable[[list[int]], int]
) -> None:
    message = notify([world.alerts["a_root"]])
    labels = [b["text"] for b in bot.buttons(message)]
    assert labels == ["Xác nhận", "Nhận xử lý", "Tạm tắt 2 giờ"]


def test_press_acknowledges_and_edits_the_message(
    bot: FakeBotApi,
    db: psycopg.Connection,
    world: World,
    receiver: TelegramReceiver,
    notify: Callable[[list[int]], int],
    link_code: Callable[[str], str],
) -> None:
    _linked(bot, db, link_code, "tech_a", TECH_A_TG)
    alert = world.alerts["a_root"]
    message = notify([alert])
    query = bot.press(TECH_A_TG, message, _button(bot, message, "ack", alert))
    answer = wait_until(lambda: bot.answer_to(query), 10, message="callback answer")
    assert answer["text"].startswith("Đã xác nhận bởi tech_a lúc")
    row = db.execute(
        "SELECT acknowledged_by, ack_note FROM alerts WHERE id = %s", (alert,)
    ).fetchone()
    assert row == ("tech_a", "Telegram")
    text = bot.messages[message]["text"]
    assert text.startswith("[ĐANG CẢNH BÁO] Xã Tịnh Sơn")
    assert "✅ Đã xác nhận bởi tech_a lúc" in text and f"(#{alert})" in text
    labels = [b["text"] for b in bot.buttons(message)]
    assert labels == ["Nhận xử lý", "Tạm tắt 2 giờ"]  # the pressed one is done, the others stay
    audit = db.execute(
        "SELECT actor, action, details->>'channel' FROM audit_log WHERE object_type = 'alert'"
    ).fetchall()
    assert ("tech_a", "acknowledged", "telegram") in audit


def test_assign_and_silence_buttons(
    bot: FakeBotApi,
    db: psycopg.Connection,
    world: World,
    receiver: TelegramReceiver,
    notify: Callable[[list[int]], int],
    link_code: Callable[[str], str],
) -> None:
    _linked(bot, db, link_code, "tech_a", TECH_A_TG)
    alert = world.alerts["a_warn"]
    message = notify([alert, world.alerts["a_root"]])
    assert len(bot.buttons(message)) == 6  # one row per alert
    query = bot.press(TECH_A_TG, message, _button(bot, message, "me", alert))
    wait_until(lambda: bot.answer_to(query), 10, message="assign answer")
    assert db.execute("SELECT assignee FROM alerts WHERE id = %s", (alert,)).fetchone() == (
        "tech_a",
    )
    query = bot.press(TECH_A_TG, message, _button(bot, message, "s2h", alert))
    answer = wait_until(lambda: bot.answer_to(query), 10, message="silence answer")
    assert "2 giờ" in answer["text"]
    row = db.execute("SELECT matchers, created_by, ends_at - starts_at FROM silences").fetchone()
    assert row == (
        [{"label": "device", "op": "=", "value": "a-spk-1"}],
        "tech_a",
        timedelta(hours=2),
    )
    channels = db.execute(
        "SELECT action, details->>'channel' FROM audit_log ORDER BY id"
    ).fetchall()
    assert ("assigned", "telegram") in channels and ("create", "telegram") in channels


def test_unlinked_account_is_refused(
    bot: FakeBotApi,
    db: psycopg.Connection,
    world: World,
    receiver: TelegramReceiver,
    notify: Callable[[list[int]], int],
) -> None:
    alert = world.alerts["a_root"]
    message = notify([alert])
    query = bot.press(999, message, _button(bot, message, "ack", alert))
    answer = wait_until(lambda: bot.answer_to(query), 10, message="refusal")
    assert answer["show_alert"] is True and "chưa được liên kết" in answer["text"]
    assert db.execute("SELECT acknowledged_by FROM alerts WHERE id = %s", (alert,)).fetchone() == (
        None,
    )
    assert bot.edits == []


def test_out_of_scope_and_forged_presses_are_refused(
    bot: FakeBotApi,
    db: psycopg.Connection,
    world: World,
    receiver: TelegramReceiver,
    notify: Callable[[list[int]], int],
    link_code: Callable[[str], str],
) -> None:
    _linked(bot, db, link_code, "tech_a", TECH_A_TG)
    other = world.alerts["b_root"]
    message = notify([other])
    query = bot.press(TECH_A_TG, message, _button(bot, message, "ack", other))
    answer = wait_until(lambda: bot.answer_to(query), 10, message="scope refusal")
    assert "không thuộc phạm vi" in answer["text"]
    forged = bot.press(TECH_A_TG, message, f"ack:{other}:AAAAAAAAAAAA")
    answer = wait_until(lambda: bot.answer_to(forged), 10, message="forged refusal")
    assert "không hợp lệ" in answer["text"]
    assert db.execute("SELECT acknowledged_by FROM alerts WHERE id = %s", (other,)).fetchone() == (
        None,
    )


def test_operator_and_used_code_are_refused(
    bot: FakeBotApi,
    db: psycopg.Connection,
    world: World,
    receiver: TelegramReceiver,
    notify: Callable[[list[int]], int],
    link_code: Callable[[str], str],
) -> None:
    code = link_code("operator")
    bot.say(777, f"/start {code}")
    wait_until(lambda: bot.sent_to(777), 10, message="link reply")
    bot.say(778, f"/start {code}")  # the same code again, from someone else
    wait_until(lambda: bot.sent_to(778), 10, message="second link reply")
    assert "sai, đã dùng" in bot.sent_to(778)[0]
    alert = world.alerts["a_root"]
    message = notify([alert])
    query = bot.press(777, message, _button(bot, message, "ack", alert))
    answer = wait_until(lambda: bot.answer_to(query), 10, message="role refusal")
    assert "không có quyền" in answer["text"]


def test_webhook_mode(
    bot: FakeBotApi,
    pool: ConnectionPool,
    db: psycopg.Connection,
    world: World,
    notify: Callable[[list[int]], int],
    link_code: Callable[[str], str],
) -> None:
    api = BotApi(bot.url, TOKEN)
    handler = BotHandler(pool, api, key_for(TOKEN), local_zone("Asia/Ho_Chi_Minh"))
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    rx = WebhookReceiver(api, handler, lambda: True, url, f"127.0.0.1:{port}")
    rx.start()
    try:
        hook = wait_until(lambda: bot.webhook, 10, message="setWebhook")
        assert hook["url"] == url and hook["secret_token"]
        forged = httpx.post(url, json={"update_id": 1, "message": {}}, timeout=5)
        assert forged.status_code == 403
        _linked(bot, db, link_code, "tech_a", TECH_A_TG)
        alert = world.alerts["a_root"]
        message = notify([alert])
        query = bot.press(TECH_A_TG, message, _button(bot, message, "ack", alert))
        assert wait_until(lambda: bot.answer_to(query), 10)["text"].startswith("Đã xác nhận")
        assert "getUpdates" not in bot.calls
    finally:
        rx.stop()


def test_only_the_leader_polls(
    bot: FakeBotApi,
    pool: ConnectionPool,
    db: psycopg.Connection,
    world: World,
    link_code: Callable[[str], str],
) -> None:
    from pydantic import SecretStr

    from alerts.telegram.service import build_receiver
    from alerts.telegram.settings import TelegramSettings

    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    assert build_receiver(pool, lambda: True, TelegramSettings(bot_token=None), zone) is None
    settings = TelegramSettings(bot_token=SecretStr(TOKEN), api_url=bot.url, poll_timeout_s=1)
    asked: list[bool] = []
    leading = [False]

    def is_leader() -> bool:
        asked.append(leading[0])
        return leading[0]

    rx = build_receiver(pool, is_leader, settings, zone)
    assert isinstance(rx, TelegramReceiver)
    rx.start()
    try:
        wait_until(lambda: len(asked) >= 2, 10, message="two standby rounds")
        assert "getUpdates" not in bot.calls
        leading[0] = True
        _linked(bot, db, link_code, "tech_a", TECH_A_TG)
    finally:
        rx.stop()


def test_channel_failures_say_whether_to_retry() -> None:
    """The notify channel's sends go through the bot's client and keep their retry semantics."""
    server = HttpReceiver().start()
    channel = TelegramChannel(
        TelegramConfig(chat_id=CHAT, timeout=timedelta(seconds=2)), TOKEN, server.url
    )
    note = Outgoing(1, "k", "tg", "resolved", "g", {}, 1, "vi", Rendered("s", "x" * 5000), "")
    cases = [
        (400, {"ok": False, "description": "chat not found"}, {}, False, None),
        (502, "<html>bad gateway</html>", {}, True, None),
        (429, {"ok": False, "parameters": {"retry_after": 7}}, {}, True, 7.0),
        (429, {"ok": False}, {"Retry-After": "3"}, True, 3.0),
    ]
    try:
        for status, body, headers, retryable, after in cases:
            server.reply(status, body, headers)
            with pytest.raises(DeliveryError) as caught:
                channel.send(note)
            assert (caught.value.retryable, caught.value.retry_after) == (retryable, after)
            assert "test-secret-token" not in caught.value.reason
        channel.send(note)
        sent = server.requests[-1].json()
        assert len(sent["text"]) == 4096 and sent["text"].endswith("…")
    finally:
        channel.close()
        server.stop()
    dead = TelegramChannel(TelegramConfig(chat_id=CHAT), TOKEN, f"http://127.0.0.1:{free_port()}")
    with pytest.raises(DeliveryError) as caught:
        dead.send(note)
    assert caught.value.retryable
    dead.close()
