"""Two-way Zalo against a fake Zalo API: send with buttons, press, act, answer; refusals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from alerts.chatops.signed import decode, derive_key, encode
from alerts.notify.channels.base import DeliveryError
from alerts.zalo.window import touch
from tests.alerts.zalo.conftest import OA_SECRET, Users, note
from tests.alerts.zalo.fakezalo import FakeZalo
from tests.api.conftest import World
from tests.util import wait_until

TECH_A = "7001"  # Zalo user ids (by OA) of the players
OTHER = "7002"
KEY = derive_key(OA_SECRET, "zalo-button")


def _buttons(fake: FakeZalo, user: str) -> list[dict[str, Any]]:
    last = fake.sent_to(user)[-1]
    return list(last["attachment"]["payload"]["buttons"])


def _history(db: psycopg.Connection, alert: int, action: str) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT actor, data ->> 'channel' FROM alert_history WHERE alert_id = %s AND action = %s",
        (alert, action),
    ).fetchall()


def test_payload_is_signed_and_bound() -> None:
    data = encode(KEY, "ack", 42)
    assert decode(KEY, data).alert_id == 42  # type: ignore[union-attr]
    assert decode(KEY, data.replace("ack", "s2h")) is None
    assert decode(KEY, data.replace(":42:", ":43:")) is None
    assert decode(derive_key("other", "zalo-button"), data) is None
    for junk in (None, 42, ["ack"], "ack:1", "ack:-1:x", "ack:1:" + "A" * 80, "ack:١:x"):
        assert decode(KEY, junk) is None


def test_alert_reaches_linked_user_with_buttons_and_presses_act(
    fake: FakeZalo,
    db: psycopg.Connection,
    world: World,
    users: Users,
    link: Callable[[str, str], None],
    channel: Callable[[dict[str, Any]], Any],
) -> None:
    link("tech_a", TECH_A)
    alert = world.alerts["a_root"]
    channel({"user": "tech_a"}).send(note([alert]))
    buttons = _buttons(fake, TECH_A)
    assert [b["title"] for b in buttons] == ["Xác nhận", "Nhận xử lý", "Tạm tắt 2 giờ"]
    assert {b["type"] for b in buttons} == {"oa.query.hide"}
    actions = ("acknowledged", "assigned", None)
    words = ("Đã xác nhận", "nhận xử lý", "tạm tắt")
    for button, action, word in zip(buttons, actions, words, strict=True):
        users.say(TECH_A, button["payload"])
        wait_until(lambda w=word: any(w in t for t in fake.texts_to(TECH_A)), 10, message=word)
        if action:
            assert _history(db, alert, action) == [("tech_a", "zalo")]
    reply = next(t for t in fake.texts_to(TECH_A) if "Đã xác nhận" in t)
    assert "bởi tech_a lúc" in reply and f"#{alert}" in reply
    row = db.execute("SELECT acknowledged_by, assignee FROM alerts WHERE id = %s", (alert,))
    assert row.fetchone() == ("tech_a", "tech_a")
    silence = db.execute("SELECT created_by, ends_at - starts_at FROM silences").fetchone()
    assert silence == ("tech_a", timedelta(hours=2))
    audit = db.execute("SELECT count(*) FROM audit_log WHERE details ->> 'channel' = 'zalo'")
    assert audit.fetchone()[0] >= 3  # type: ignore[index]


def test_forged_replayed_unlinked_and_out_of_scope_presses_are_refused(
    fake: FakeZalo,
    db: psycopg.Connection,
    world: World,
    users: Users,
    link: Callable[[str, str], None],
) -> None:
    link("tech_a", TECH_A)
    a, b = world.alerts["a_root"], world.alerts["b_root"]
    forged = encode(derive_key("guessed", "zalo-button"), "ack", a)
    users.say(TECH_A, forged)
    users.processed("refused: forged")
    users.say(OTHER, encode(KEY, "ack", a))  # a Zalo user nobody linked
    users.processed("refused: unlinked")
    users.say(TECH_A, encode(KEY, "ack", b))  # tech_a sees commune A only
    users.processed("refused: Cảnh báo")
    assert _history(db, a, "acknowledged") == [] and _history(db, b, "acknowledged") == []
    # The same press twice, and the same webhook delivery twice: one action.
    users.say(TECH_A, encode(KEY, "me", a), msg_id="dup-1")
    users.say(TECH_A, encode(KEY, "me", a), msg_id="dup-1")
    users.say(TECH_A, encode(KEY, "me", a))
    users.processed("refused: replayed")
    assert len(_history(db, a, "assigned")) == 1
    inbox = db.execute("SELECT count(*) FROM ioc_auth.zalo_inbox WHERE event_key = 'msg:dup-1'")
    assert inbox.fetchone() == (1,)
    # Replies go out after the outcome is committed: wait for the last one.
    wait_until(lambda: any("Đã thực hiện trước đó" in t for t in fake.texts_to(TECH_A)), 10,
               message="replay reply")  # fmt: skip
    texts = fake.texts_to(TECH_A) + fake.texts_to(OTHER)
    assert "Nút không hợp lệ." in texts
    assert any("chưa được liên kết" in t and "/lienket" in t for t in texts)
    assert any("không thuộc phạm vi" in t for t in texts)
    assert any("Đã thực hiện trước đó bởi tech_a" in t for t in texts)


def test_token_expiry_mid_storm_refreshes_once_and_loses_nothing(
    fake: FakeZalo,
    db: psycopg.Connection,
    world: World,
    channel: Callable[[dict[str, Any]], Any],
) -> None:
    touch(db, "8001", datetime.now(UTC), "user_send_text")
    ch = channel({"user_id": "8001"})
    ch.send(note([world.alerts["a_root"]]))  # first token from the seed refresh token
    assert fake.refreshes == 1
    before = db.execute("SELECT generation FROM ioc_auth.zalo_tokens").fetchone()
    fake.expire()
    fake.refresh_delay_s = 0.2  # every sender sees -216 before the refresh returns
    import concurrent.futures as cf

    with cf.ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda i: ch.send(note([world.alerts["a_warn"]], i)), range(2, 26)))
    assert len(fake.sent_to("8001")) == 25
    assert fake.refreshes == 2
    row = db.execute(
        "SELECT generation, refresh_token, previous_refresh_token, proven_at IS NOT NULL "
        "FROM ioc_auth.zalo_tokens"
    ).fetchone()
    assert row == (before[0] + 1, fake.refresh_token, None, True)  # type: ignore[index]


def test_crash_between_refresh_and_save_keeps_the_stored_pair(
    fake: FakeZalo, db: psycopg.Connection, world: World, channel: Callable[[dict[str, Any]], Any]
) -> None:
    touch(db, "8001", datetime.now(UTC), "user_send_text")
    fake.grace = True
    ch = channel({"user_id": "8001"})
    real = ch.tokens.api.refresh

    def crash(*args: Any) -> Any:
        real(*args)  # Zalo rotated the pair...
        raise RuntimeError("process died before the commit")  # ...and we never saved it

    ch.tokens.api.refresh = crash
    with pytest.raises(RuntimeError):
        ch.send(note([world.alerts["a_root"]]))
    row = db.execute("SELECT generation, refresh_token FROM ioc_auth.zalo_tokens").fetchone()
    assert row == (0, SEED)  # nothing half-written: the stored token is still the last saved
    ch.tokens.api.refresh = real
    ch.send(note([world.alerts["a_root"]], 2))
    assert len(fake.sent_to("8001")) == 1 and fake.refreshes == 2
    row = db.execute("SELECT generation, refresh_token FROM ioc_auth.zalo_tokens").fetchone()
    assert row == (1, fake.refresh_token)


SEED = "rt-seed"


def test_refresh_failure_reroutes_and_raises_channel_down(
    fake: FakeZalo,
    db: psycopg.Connection,
    world: World,
    channel: Callable[[dict[str, Any]], Any],
    make_engine: Any,
) -> None:
    touch(db, "8001", datetime.now(UTC), "user_send_text")
    fake.refuse_refresh = True
    row_id = _outbox_row(db, world.alerts["a_root"])
    with pytest.raises(DeliveryError) as failed:
        channel({"user_id": "8001", "fallback": "mail"}).send(
            note([world.alerts["a_root"]], row_id)
        )
    assert "rerouted to mail" in failed.value.reason and not failed.value.retryable
    assert _rerouted(db, row_id)
    with pytest.raises(DeliveryError) as kept:  # no fallback: retried, not dropped
        channel({"user_id": "8001"}).send(note([world.alerts["a_root"]], row_id))
    assert kept.value.retryable
    down = db.execute("SELECT down_since IS NOT NULL FROM notify_channel_health").fetchone()
    assert down == (True,)
    make_engine(rules_yaml="rules: []").evaluate_once()
    alert = db.execute(
        "SELECT state, summary FROM alerts WHERE fingerprint = 'channel_down:zalo'"
    ).fetchone()
    assert alert is not None and alert[0] == "firing" and "Kênh thông báo zalo" in alert[1]


def _outbox_row(db: psycopg.Connection, alert: int) -> int:
    row = db.execute(
        "INSERT INTO notifications (dedup_key, receiver, channel, group_key, kind, alert_ids, "
        "payload) VALUES ('z-1', 'zl', 'zalo', 'g', 'firing', %s, '{}') RETURNING id",
        ([alert],),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _rerouted(db: psycopg.Connection, row_id: int) -> tuple[Any, ...] | None:
    return db.execute(
        "SELECT receiver, channel, payload ->> 'reroute_reason' FROM notifications "
        "WHERE payload ->> 'rerouted_from' = %s",
        (str(row_id),),
    ).fetchone()


def test_outside_the_window_goes_as_template_or_to_the_fallback(
    fake: FakeZalo, db: psycopg.Connection, world: World, channel: Callable[[dict[str, Any]], Any]
) -> None:
    alert = world.alerts["a_root"]
    touch(db, "8001", datetime.now(UTC) - timedelta(hours=49), "user_send_text")
    zns = {"template_id": "123456", "phone": "84912345678", "params": {"noi_dung": "title"}}
    channel({"user_id": "8001", "zns": zns}).send(note([alert]))
    assert fake.sent_to("8001") == []
    (template,) = fake.templates
    assert template["phone"] == "84912345678" and template["template_id"] == "123456"
    assert template["template_data"] == {"noi_dung": "[ĐANG CẢNH BÁO]"}
    notes = db.execute(
        "SELECT note FROM alert_history WHERE alert_id = %s AND action = 'notified_template'",
        (alert,),
    ).fetchall()
    assert "outside the 48 h window" in notes[0][0]
    row_id = _outbox_row(db, alert)
    with pytest.raises(DeliveryError) as rerouted:
        channel({"user_id": "8001", "fallback": "mail"}).send(note([alert], row_id))
    assert "outside the 48 h window" in rerouted.value.reason
    found = _rerouted(db, row_id)
    assert found is not None and found[:2] == ("mail", "webhook")
    assert "outside the 48 h window" in found[2]
    with pytest.raises(DeliveryError) as nowhere:
        channel({"user": "tech"}).send(note([alert]))  # never linked, nowhere else to go
    assert "no linked Zalo account" in nowhere.value.reason and not nowhere.value.retryable


def test_second_presses_from_other_users_say_what_is_done_and_resolved_alerts_refuse(
    fake: FakeZalo,
    db: psycopg.Connection,
    world: World,
    users: Users,
    link: Callable[[str, str], None],
) -> None:
    link("tech_a", TECH_A)
    link("tech", OTHER)  # a technician of every commune
    alert = world.alerts["a_warn"]
    for action in ("ack", "s2h"):
        users.say(TECH_A, encode(KEY, action, alert))
        users.processed(f"done: {action}")
        users.say(OTHER, encode(KEY, action, alert))
    users.processed("already:", 2)
    assert _history(db, alert, "acknowledged") == [("tech_a", "zalo")]
    assert db.execute("SELECT count(*) FROM silences").fetchone() == (1,)
    for said in ("đã được tech_a xác nhận", "đã được tạm tắt đến"):  # sent after the commit
        wait_until(lambda s=said: any(s in t for t in fake.texts_to(OTHER)), 10, message=said)
    root = world.alerts["a_root"]
    db.execute("UPDATE alerts SET state = 'resolved', resolved_at = now() WHERE id = %s", (root,))
    users.say(OTHER, encode(KEY, "me", root))
    users.processed("refused: Cảnh báo")
    wait_until(lambda: any("đã khắc phục" in t for t in fake.texts_to(OTHER)), 10, message="fixed")
    assert db.execute("SELECT assignee FROM alerts WHERE id = %s", (root,)).fetchone() == (None,)
