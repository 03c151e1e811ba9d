"""Hostile webhook requests: each is refused (or harmlessly queued) and costs only itself."""

from __future__ import annotations

import json
import random
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import psycopg

from alerts.chatops.signed import derive_key, encode
from alerts.zalo.webhook import MAX_BODY, verify
from tests.alerts.zalo.conftest import APP_ID, OA_SECRET, Users
from tests.alerts.zalo.fakezalo import FakeZalo
from tests.api.conftest import World

KEY = derive_key(OA_SECRET, "zalo-button")


def _now_ms() -> str:
    return str(int(time.time() * 1000))


def _event(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "app_id": APP_ID,
        "event_name": "user_send_text",
        "timestamp": _now_ms(),
        "sender": {"id": "7009"},
        "message": {"text": "xin chào", "msg_id": f"h-{random.random()}"},
    }
    event.update(fields)
    return event


def test_verify_rules() -> None:
    fake = FakeZalo(APP_ID, "s", "r")
    body = json.dumps(_event())
    ts = json.loads(body)["timestamp"]
    now = int(ts)
    good = fake.sign(body, ts, OA_SECRET)
    assert verify(body.encode(), good, APP_ID, OA_SECRET, now, 300_000).status == 200
    tampered = good[:-1] + ("1" if good[-1] == "0" else "0")  # always another MAC
    assert verify(body.encode(), tampered, APP_ID, OA_SECRET, now, 300_000).status == 403
    assert verify(body.encode(), good, APP_ID, "other", now, 300_000).status == 403
    assert verify(body.encode(), good, "other-app", OA_SECRET, now, 300_000).status == 403
    stale = now + 301_000
    assert (
        verify(body.encode(), good, APP_ID, OA_SECRET, stale, 300_000).reason == "stale timestamp"
    )
    assert verify(body.encode(), None, APP_ID, OA_SECRET, now, 300_000).status == 403
    fake.server.server_close()


def _hostile(fake: FakeZalo) -> list[tuple[str, bytes, str | None, set[int]]]:
    """(name, body, signature, acceptable statuses): generated bad requests."""
    rng = random.Random(30)
    cases: list[tuple[str, bytes, str | None, set[int]]] = []

    def signed(event: Any, name: str, ok: set[int]) -> None:
        body = json.dumps(event)
        ts = str(event.get("timestamp", "")) if isinstance(event, dict) else ""
        cases.append((name, body.encode(), fake.sign(body, ts, OA_SECRET), ok))

    cases.append(("huge", b"{" + b" " * (MAX_BODY + 10) + b"}", "mac=0", {413}))
    deep = "[" * 30_000 + "]" * 30_000
    cases.append(("deep", deep.encode(), "mac=0", {400}))
    deep_obj = '{"a":' * 10_000 + "1" + "}" * 10_000
    cases.append(("deep object", deep_obj.encode(), "mac=0", {400}))
    cases.append(("not utf-8", b'{"x": "\xff\xfe"}', "mac=0", {400}))
    cases.append(("not json", b"app_id=1&timestamp=2", "mac=0", {400}))
    cases.append(("array", b"[1, 2]", "mac=0", {400}))
    for field, value in [("timestamp", [1]), ("timestamp", None), ("timestamp", True),
                         ("timestamp", "12a"), ("app_id", {"x": 1}), ("app_id", False)]:  # fmt: skip
        signed(_event(**{field: value}), f"{field}={value!r}", {400, 403})
    for missing in ("timestamp", "app_id"):
        event = _event()
        del event[missing]
        signed(event, f"missing {missing}", {400})
    for i in range(10):  # random bad signatures
        body = json.dumps(_event())
        mac = "mac=" + "".join(rng.choice("0123456789abcdef") for _ in range(64))
        cases.append((f"bad mac {i}", body.encode(), mac if i % 3 else None, {403}))
    old = _event(timestamp=str(int(time.time() * 1000) - 3_600_000))
    signed(old, "stale", {403})
    future = _event(timestamp=str(int(time.time() * 1000) + 3_600_000))
    signed(future, "future", {403})
    signed(_event(app_id="999"), "other app", {403})
    signed(_event(message={"text": "ack:1:\u0000", "msg_id": "m-nul"}), "NUL", {400})
    # Signed and well-formed, but odd inside: queued, handled without acting, never crashing.
    for i, odd in enumerate(
        [
            {"sender": "7009"},
            {"sender": {"id": {"x": 1}}},
            {"message": {"text": 12}},
            {"message": "ack:1:abc"},
            {"event_name": 5},
            {"message": {"text": "ack:" + "9" * 40 + ":x", "msg_id": "m-long"}},
            {"message": {"text": "/lienket " + "A" * 5000, "msg_id": "m-code"}},
        ]
    ):
        signed(_event(**odd), f"odd {i}", {200})
    return cases


def test_hostile_bodies_are_refused_and_cost_only_themselves(
    fake: FakeZalo,
    db: psycopg.Connection,
    world: World,
    users: Users,
    link: Callable[[str, str], None],
) -> None:
    for name, body, mac, ok in _hostile(fake):
        headers = {"X-ZEvent-Signature": mac} if mac is not None else {}
        response = httpx.post(users.url, content=body, headers=headers, timeout=10)
        assert response.status_code in ok, (name, response.status_code, response.text)
    users.processed("", count=7)  # the odd ones were handled
    assert db.execute(
        "SELECT count(*) FROM ioc_auth.zalo_inbox WHERE processed_at IS NULL"
    ).fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM alert_history WHERE actor = 'tech_a'").fetchone() == (
        0,
    )
    host, port = users.url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:  # no Content-Length
        raw.sendall(b"POST /hooks/zalo HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b" 411 " in raw.recv(200)
    assert httpx.post(users.url.replace("/hooks/zalo", "/other"), content=b"{}").status_code == 404
    # The webhook still works: a real press acts.
    link("tech_a", "7010")
    users.say("7010", encode(KEY, "ack", world.alerts["a_root"]))
    users.processed("done: ack")


def test_only_what_the_user_does_opens_the_window(users: Users, db: psycopg.Connection) -> None:
    seen = _event(event_name="user_seen_message", sender={"id": "7301"})
    assert users.post(seen).status_code == 200
    users.processed("interaction: user_seen_message")
    assert users.say("7302", "chào").status_code == 200
    users.processed("text")
    rows = db.execute("SELECT zalo_user_id FROM ioc_auth.zalo_contacts ORDER BY 1").fetchall()
    assert rows == [("7302",)]
