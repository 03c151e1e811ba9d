"""Grouping, repeat, resolution and idempotent enqueueing against a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg_pool import ConnectionPool

from tests.alerts.notify.helpers import (
    T0,
    HttpReceiver,
    acknowledge,
    at,
    fire,
    make_notifier,
    outbox,
    resolve,
    webhook_config,
)


def _storm(db: psycopg.Connection) -> tuple[int, list[int]]:
    uplink = fire(
        db,
        "ts-uplink",
        device_type="link",
        rule="link_down",
        summary="Mất kết nối đường truyền Cáp quang UBND",
        annotations={
            "description": "Đường truyền không phản hồi",
            "impact": {"camera": 10, "speaker": 2},
        },
    )
    children = [
        fire(db, f"ts-cam-{i:02d}", fired_at=at(0.5), suppressed_by=uplink) for i in range(1, 11)
    ] + [
        fire(db, f"ts-spe-{i:02d}", device_type="speaker", fired_at=at(0.5), suppressed_by=uplink)
        for i in (11, 12)
    ]
    return uplink, children


def test_uplink_storm_is_one_firing_and_one_resolved_message(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    db = registry
    notifier = make_notifier(pool, tmp_path, webhook_config(receiver.url))
    uplink, children = _storm(db)

    notifier.tick(at(1))  # inside group_wait
    assert outbox(db) == []
    notifier.tick(at(2))
    notifier.tick(at(3))  # a second tick enqueues nothing new
    rows = outbox(db)
    assert [(r["kind"], r["alert_ids"]) for r in rows] == [("firing", [uplink])]
    assert notifier.deliver(at(3)) == 1
    assert notifier.deliver(at(4)) == 0
    assert len(receiver.requests) == 1
    body = receiver.requests[0].json()
    assert body["status"] == "firing"
    assert "Cáp quang UBND (VNPT)" in body["text"]
    assert "10 camera, 2 cụm loa không truy cập được" in body["text"]
    assert body["title"] == "[ĐANG CẢNH BÁO] Xã Tịnh Sơn: Mất kết nối đường truyền Cáp quang UBND"
    assert "14:00 22/11/2026" in body["text"]  # local time Asia/Ho_Chi_Minh
    assert f"http://ioc.test/console/alerts/{uplink}" in body["text"]

    # The uplink comes back: children resolve first, then the uplink; one resolved message.
    for child in children:
        resolve(db, child, at(600))
    resolve(db, uplink, at(601))
    notifier.tick(at(602))
    notifier.tick(at(603))
    rows = outbox(db)
    assert [(r["kind"], r["alert_ids"]) for r in rows[1:]] == [("resolved", [uplink])]
    assert notifier.deliver(at(603)) == 1
    resolved = receiver.requests[1].json()
    assert resolved["status"] == "resolved"
    assert "ĐÃ KHẮC PHỤC" in resolved["title"]
    assert "Cáp quang UBND (VNPT)" in resolved["text"]
    notifier.tick(at(4000))
    assert len(outbox(db)) == 2
    notifier.close()


def test_group_interval_batches_later_alerts(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    db = registry
    notifier = make_notifier(pool, tmp_path, webhook_config(receiver.url))
    first = fire(db, "ts-cam-01")
    notifier.tick(at(2))
    # Warnings follow the group's rhythm (a new critical would not wait: see test_urgency).
    second = fire(db, "ts-cam-02", fired_at=at(10), severity="warning")
    third = fire(db, "ts-cam-03", fired_at=at(20), severity="warning")
    notifier.tick(at(30))
    notifier.tick(at(61))  # group_interval (1m) after the first message not reached yet
    assert len(outbox(db)) == 1
    notifier.tick(at(62))
    rows = outbox(db)
    assert len(rows) == 2
    assert sorted(rows[1]["alert_ids"]) == sorted([first, second, third])
    # Another commune is another group, with its own group_wait.
    other = fire(db, "th-cam-01", commune="21026", site="th-ubnd", fired_at=at(63))
    notifier.tick(at(64))
    assert len(outbox(db)) == 2
    notifier.tick(at(65))
    rows = outbox(db)
    assert rows[2]["alert_ids"] == [other]
    assert rows[2]["group_key"] != rows[1]["group_key"]
    notifier.close()


def test_repeat_interval_only_while_unacknowledged(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    db = registry
    notifier = make_notifier(pool, tmp_path, webhook_config(receiver.url))
    alert = fire(db, "ts-cam-01")
    notifier.tick(at(2))
    notifier.tick(at(2 + 3599))
    assert [r["kind"] for r in outbox(db)] == ["firing"]
    notifier.tick(at(2 + 3600))
    assert [r["kind"] for r in outbox(db)] == ["firing", "repeat"]
    acknowledge(db, alert, at(4000))
    notifier.tick(at(2 + 7300))
    assert [r["kind"] for r in outbox(db)] == ["firing", "repeat"]
    notifier.close()


def test_resolved_follows_firing_even_when_acknowledged_or_muted_later(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    db = registry
    notifier = make_notifier(pool, tmp_path, webhook_config(receiver.url))
    acked = fire(db, "ts-cam-01")
    muted = fire(db, "ts-cam-02")
    never = fire(db, "ts-cam-03", fired_at=at(100), suppressed_by=acked)
    notifier.tick(at(2))
    assert sorted(outbox(db)[0]["alert_ids"]) == sorted([acked, muted])
    acknowledge(db, acked, at(10))
    db.execute("UPDATE alerts SET silenced_by = '{1}' WHERE id = %(id)s", {"id": muted})
    notifier.tick(at(200))  # muting is not news: nothing sent
    assert len(outbox(db)) == 1
    for alert_id in (acked, muted, never):
        resolve(db, alert_id, at(300))
    notifier.tick(at(301))
    rows = outbox(db)
    assert rows[1]["kind"] == "resolved"
    assert sorted(rows[1]["alert_ids"]) == sorted([acked, muted])  # never notified: no resolved
    notifier.deliver(at(301))
    notifier.deliver(at(302))
    statuses = [{a["status"] for a in r.json()["alerts"]} for r in receiver.requests]
    assert statuses == [{"firing"}, {"resolved"}]
    notifier.close()


def test_two_processes_ticking_enqueue_once(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    db = registry
    config = webhook_config(receiver.url)
    one, two = make_notifier(pool, tmp_path, config), make_notifier(pool, tmp_path, config)
    fire(db, "ts-cam-01", fired_at=T0)
    one.tick(at(2))
    two.tick(at(2))
    two.tick(at(2.5))
    assert len(outbox(db)) == 1
    # Lost group state (e.g. restored from backup) still cannot duplicate: same dedup key.
    db.execute("DELETE FROM notify_groups")
    one.tick(at(2))
    assert len(outbox(db)) == 1
    one.close()
    two.close()
