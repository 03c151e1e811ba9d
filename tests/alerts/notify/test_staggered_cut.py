"""A real uplink cut is found by keep-alive expiry: wills spread out, the uplink's maybe last.

Time is driven (``evaluate_once(at)``), the notifier posts to a real loopback webhook. Wills are
written as ingest writes them: ``online = false`` dated in ``status_time``, no message.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from tests.alerts.conftest import EngineFactory, report
from tests.alerts.notify.helpers import HttpReceiver, make_notifier, webhook_config

S = timedelta(seconds=1)
RULES = """
rules:
  - {name: offline, kind: absence, types: [camera, speaker, link], severity: critical}
"""
BEHIND = [f"ts-cam-{i:02d}" for i in range(1, 11)] + ["ts-spe-11", "ts-spe-12"]
OTHER_COMMUNE = "th-cam-01"
WILL = """
UPDATE device_status SET online = false, status_time = %(at)s, status_received_at = %(at)s
WHERE device_id = %(device)s
"""
BIRTH_KEEPALIVE = "UPDATE device_status SET keepalive_s = %(k)s WHERE device_id = %(device)s"


def will(db: psycopg.Connection, device: str, at: datetime) -> None:
    """The broker published ``device``'s last will; ingest marked it offline."""
    db.execute(WILL, {"device": device, "at": at})


def cut(
    db: psycopg.Connection,
    make_engine: EngineFactory,
    pool: ConnectionPool,
    receiver: HttpReceiver,
    tmp_path: Path,
    *,
    spread_s: int,
    uplink_will: bool = True,
    **settings: float,
) -> tuple[list[tuple[float, list[str]]], datetime]:
    """Cut the uplink 60 s in; wills over ``spread_s``, the uplink's last. Returns the
    notifications (seconds after the last will, devices) and the last will's time."""
    db.execute("UPDATE devices SET interval_s = 60 WHERE id = 'ts-uplink'")
    engine = make_engine(RULES, **settings)
    notifier = make_notifier(pool, tmp_path, webhook_config(receiver.url))
    t0 = datetime.now(UTC).replace(microsecond=0)
    start = t0 + 60 * S
    wills = {d: start + spread_s * i / len(BEHIND) * S for i, d in enumerate(BEHIND)}
    if uplink_will:
        wills["ts-uplink"] = start + spread_s * S
    last_will = max(wills.values())
    seen: list[tuple[float, list[str]]] = []
    for second in range(0, 60 + spread_s + 90):
        at = t0 + second * S
        for device in ["ts-uplink", *BEHIND, OTHER_COMMUNE]:
            if second % 10 == 0 and (at < start or device == OTHER_COMMUNE):
                report(db, device, at)
        if second == 0:  # the uplink's birth said its keep-alive (20 s)
            db.execute(BIRTH_KEEPALIVE, {"device": "ts-uplink", "k": 20})
        for device, when in wills.items():
            if at - S < when <= at:
                will(db, device, when)
        engine.evaluate_once(at)
        notifier.tick(at)
        notifier.deliver(at)
        for request in receiver.requests[len(seen) :]:
            body = request.json()
            devices = [a["device_id"] for a in body["alerts"] if body["status"] == "firing"]
            seen.append(((at - last_will).total_seconds(), devices))
    notifier.close()
    return seen, last_will


@pytest.mark.parametrize("spread_s", [30, 0])
def test_staggered_uplink_cut_is_one_root_cause_message(
    registry: psycopg.Connection,
    make_engine: EngineFactory,
    pool: ConnectionPool,
    receiver: HttpReceiver,
    tmp_path: Path,
    spread_s: int,
) -> None:
    """Wills spread over 30 s (or at once), the uplink's (keep-alive 20 s) last: one page."""
    seen, _ = cut(registry, make_engine, pool, receiver, tmp_path, spread_s=spread_s)
    assert [devices for _, devices in seen] == [["ts-uplink"]], seen
    (after_last_will, _), *_ = seen
    print(f"spread {spread_s} s: root cause notified {after_last_will:.0f} s after the last will")
    assert after_last_will <= 10
    assert OTHER_COMMUNE not in str(receiver.requests[0].body)


def test_children_accuse_a_parent_whose_will_never_comes(
    registry: psycopg.Connection,
    make_engine: EngineFactory,
    pool: ConnectionPool,
    receiver: HttpReceiver,
    tmp_path: Path,
) -> None:
    """Twelve wills after the uplink's last message and the uplink silent one interval: the
    uplink is presumed down (its offline alert opens) well before 3 intervals."""
    seen, _ = cut(registry, make_engine, pool, receiver, tmp_path, spread_s=30, uplink_will=False)
    assert [devices for _, devices in seen] == [["ts-uplink"]], seen
    # The uplink was last heard 10 s before the cut (interval 60 s): late 50 s after the cut,
    # 22.5 s after the last will, then the 2 s group_wait and a tick; not 180 s after its last
    # message as an absence of 3 intervals would take.
    assert 22 <= seen[0][0] <= 22.5 + 2 + 1.5, seen
    row = registry.execute(
        "SELECT annotations ->> 'reason' FROM alerts WHERE device_id = 'ts-uplink'"
    ).fetchone()
    assert row == ("children_quiet",)


def test_without_the_birth_keepalive_a_single_quiet_device_waits_for_the_interval(
    registry: psycopg.Connection,
    make_engine: EngineFactory,
    pool: ConnectionPool,
    receiver: HttpReceiver,
    tmp_path: Path,
) -> None:
    """The trade-off: one camera's genuine outage under a parent that happens to be quiet is
    reported once the parent could have been found down (here: its type's bound, 12 s)."""
    engine = make_engine(RULES, parent_hold_s=1, parent_hold_by_type={"link": 12})
    t0 = datetime.now(UTC).replace(microsecond=0)
    for device in ["ts-uplink", *BEHIND]:
        report(registry, device, t0)
    will(registry, "ts-cam-01", t0 + 2 * S)
    engine.evaluate_once(t0 + 14 * S)
    assert registry.execute("SELECT state FROM alerts").fetchall() == [("pending",)]
    engine.evaluate_once(t0 + 16 * S)
    assert registry.execute("SELECT device_id, state FROM alerts").fetchall() == [
        ("ts-cam-01", "firing")
    ]
