"""A new critical root cause does not wait for its group's rhythm; brief alerts are not lost."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg_pool import ConnectionPool

from alerts.engine import AlertEngine
from alerts.rules import parse_rules
from alerts.settings import AlertSettings
from tests.alerts.conftest import report, report_all
from tests.alerts.notify.helpers import (
    HttpReceiver,
    at,
    fire,
    make_notifier,
    notify_setup,
    outbox,
    resolve,
    webhook_config,
)
from tests.util import wait_until

RULES = """
rules:
  - {name: offline, kind: absence, types: [camera, speaker, link, nvr], severity: critical}
"""


def _config(url: str, **defaults: str) -> dict[str, object]:
    config = webhook_config(url)
    config["defaults"] = {
        "group_wait": "2s",
        "group_interval": "5m",
        "repeat_interval": "4h",
        **defaults,
    }
    return config


def test_new_critical_root_cause_is_sent_within_seconds_of_a_group_message(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    db = registry
    notifier = make_notifier(pool, tmp_path, _config(receiver.url))
    first = fire(db, "ts-cam-01")
    notifier.tick(at(2))
    assert [r["alert_ids"] for r in outbox(db)] == [[first]]
    # A second, unrelated critical incident 3 s later in the same commune (same group).
    second = fire(db, "th-cam-01", commune="21025", fired_at=at(3))
    notifier.tick(at(4))  # group_wait (2 s after it fired) not over yet
    assert len(outbox(db)) == 1
    notifier.tick(at(7))  # critical_interval (5 s) after the previous message: due
    rows = outbox(db)
    assert len(rows) == 2
    assert rows[1]["kind"] == "firing"
    assert sorted(rows[1]["alert_ids"]) == sorted([first, second])
    # A warning in the same group keeps the Alertmanager rhythm (group_interval 5 m).
    warning = fire(db, "ts-cam-02", fired_at=at(10), severity="warning")
    notifier.tick(at(60))
    assert len(outbox(db)) == 2
    notifier.tick(at(7 + 300))
    assert warning in outbox(db)[2]["alert_ids"]
    notifier.close()


def test_a_storm_still_is_one_message(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    db = registry
    notifier = make_notifier(pool, tmp_path, _config(receiver.url))
    first = fire(db, "th-cam-01", commune="21025")
    notifier.tick(at(2))
    # The uplink and the twelve devices behind it (suppressed by it) a moment later.
    uplink = fire(db, "ts-uplink", device_type="link", rule="link_down", fired_at=at(3))
    for i in range(1, 11):
        fire(db, f"ts-cam-{i:02d}", fired_at=at(3.5), suppressed_by=uplink)
    for second in range(3, 40):
        notifier.tick(at(second))
    rows = outbox(db)
    assert [sorted(r["alert_ids"]) for r in rows] == [[first], sorted([first, uplink])]
    notifier.close()


def test_fired_and_resolved_before_sent_is_reported_once(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    db = registry
    notifier = make_notifier(pool, tmp_path, _config(receiver.url, min_reported="30s"))
    first = fire(db, "th-cam-01", commune="21025")
    notifier.tick(at(2))
    notifier.deliver(at(2))
    # A warning that fires and resolves inside the group's 5 minutes, and a 10 s blip.
    brief = fire(db, "ts-cam-01", fired_at=at(20), severity="warning")
    resolve(db, brief, at(80))
    blip = fire(db, "ts-cam-02", fired_at=at(30), severity="warning")
    resolve(db, blip, at(40))
    notifier.tick(at(100))
    assert len(outbox(db)) == 1
    notifier.tick(at(302))
    rows = outbox(db)
    assert len(rows) == 2
    assert sorted(rows[1]["alert_ids"]) == sorted([first, brief])  # the blip is under 30 s
    notifier.deliver(at(302))
    body = receiver.requests[1].json()
    assert "Đã tự khắc phục trước khi kịp báo (1):" in body["text"]
    assert [a["status"] for a in body["alerts"]] == ["firing", "resolved"]
    for second in (400, 700, 1000):
        notifier.tick(at(second))
    assert len(outbox(db)) == 2  # reported once
    notifier.close()


def test_a_lone_brief_alert_gets_its_own_self_resolved_message(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    db = registry
    notifier = make_notifier(pool, tmp_path, _config(receiver.url))
    brief = fire(db, "ts-cam-01", fired_at=at(0))
    resolve(db, brief, at(1))  # resolved inside group_wait: never sent as firing
    notifier.tick(at(3))
    rows = outbox(db)
    assert [(r["kind"], r["alert_ids"]) for r in rows] == [("resolved", [brief])]
    notifier.deliver(at(3))
    body = receiver.requests[0].json()
    assert body["title"].startswith("[ĐÃ TỰ KHẮC PHỤC] Xã Tịnh Sơn")
    notifier.close()


@pytest.mark.slow
def test_running_engine_delivers_a_second_incident_within_10s(
    fleet: psycopg.Connection,
    pool: ConnectionPool,
    receiver: HttpReceiver,
    tmp_path: Path,
) -> None:
    """Default timing (group_interval 5 m): the second incident is not held back by it."""
    routes = tmp_path / "routes.yaml"
    routes.write_text(yaml.safe_dump(webhook_config(receiver.url)), encoding="utf-8")
    settings = AlertSettings(pipeline_silence_s=0, pipeline_heartbeat_s=0)
    notify = notify_setup(alerts_config=routes)
    engine = AlertEngine(settings, pool, rules=parse_rules(RULES), notify=notify)
    report_all(fleet, datetime.now(UTC))
    engine.start()
    try:
        wait_until(lambda: engine.last_result is not None, 10, message="first evaluation")
        report(fleet, "solo", datetime.now(UTC), online=False)
        wait_until(lambda: receiver.requests, 10, message="first incident notified")
        will = time.monotonic()
        report(fleet, "g4", datetime.now(UTC), online=False)  # the 4G backup link
        wait_until(lambda: len(receiver.requests) >= 2, 15, message="second incident notified")
        latency = time.monotonic() - will
    finally:
        engine.stop()
    second = receiver.requests[1].json()
    assert "g4" in [a["device_id"] for a in second["alerts"] if a["status"] == "firing"]
    print(f"second incident, same group, 1 s after the first message -> webhook: {latency:.2f}s")
    assert latency < 10.0
