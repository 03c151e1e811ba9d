"""Status order is arrival order, and a future-dated reading never wins "latest"."""

from __future__ import annotations

from datetime import timedelta

import psycopg

from ingest.service import IngestService
from tests.ingest.conftest import Publisher, count, iso, now_minus
from tests.util import wait_until


def online(db: psycopg.Connection, device: str) -> bool | None:
    row = db.execute("SELECT online FROM device_status WHERE device_id = %s", (device,)).fetchone()
    return None if row is None else row[0]


def test_a_later_status_replaces_the_current_whatever_its_ts(
    service: IngestService, publisher: Publisher, db: psycopg.Connection
) -> None:
    connected_at = now_minus(30)  # when the device composed its will
    births = [
        # a JSON will carries the time it was composed: older than the birth that follows it
        ("ts-cam-01", {"state": "online", "ts": iso(now_minus(1))}),
        # a clock running ahead (within the tolerance) must not shield the device from its will
        ("ts-spk-01", {"state": "online", "ts": iso(now_minus(-120))}),
        ("ts-uplink", "online"),
    ]
    publisher.send_all([(publisher.topic(d, "status"), p) for d, p in births])
    wait_until(
        lambda: all(online(db, d) for d, _ in births), 10, message="devices online after birth"
    )
    wills = [
        ("ts-cam-01", {"state": "offline", "ts": iso(connected_at)}),
        ("ts-spk-01", "offline"),
        # a will dated before the retention: the state still counts (dated at arrival)
        ("ts-uplink", {"state": "offline", "ts": iso(now_minus(86400 * 60))}),
    ]
    publisher.send_all([(publisher.topic(d, "status"), p) for d, p in wills])
    wait_until(
        lambda: not any(online(db, d) for d, _ in wills), 10, message="every will marks offline"
    )
    assert count(db, "SELECT count(*) FROM quarantine") == 0
    rows = db.execute(
        "SELECT device_id, time, received_at FROM device_status_changes WHERE NOT online"
    ).fetchall()
    assert len(rows) == 3, rows
    for device, time, received_at in rows:
        # an implausible ts (older than the current status's arrival) dates at arrival
        assert time == received_at, (device, time, received_at)
    status_times = db.execute(
        "SELECT status_time, status_received_at FROM device_status WHERE status_time IS NOT NULL"
    ).fetchall()
    assert all(t <= r for t, r in status_times), status_times
    # a later plain birth brings the camera back
    publisher.send_all([(publisher.topic("ts-cam-01", "status"), "online")])
    wait_until(lambda: online(db, "ts-cam-01"), 10, message="back online")


def test_a_future_dated_reading_is_kept_but_never_latest(
    service: IngestService, publisher: Publisher, db: psycopg.Connection
) -> None:
    topic = publisher.topic("ts-cam-01")
    now = now_minus(0)
    publisher.send_all(
        [
            (topic, {"ts": iso(now - timedelta(seconds=5)), "seq": 1, "metrics": {"fps": 25}}),
            (topic, {"ts": iso(now + timedelta(seconds=240)), "seq": 2, "metrics": {"fps": 0}}),
        ]
    )
    wait_until(
        lambda: count(db, "SELECT count(*) FROM telemetry_points") == 2, 10, message="both kept"
    )
    latest = db.execute(
        "SELECT value FROM device_latest WHERE device_id = 'ts-cam-01' AND metric = 'fps'"
    ).fetchone()
    assert latest == (25.0,)
    publisher.send_all([(topic, {"ts": iso(now_minus(0)), "seq": 3, "metrics": {"fps": 24}})])
    wait_until(
        lambda: count(db, "SELECT count(*) FROM telemetry_points") == 3, 10, message="3 rows"
    )
    latest = db.execute(
        "SELECT value FROM device_latest WHERE device_id = 'ts-cam-01' AND metric = 'fps'"
    ).fetchone()
    assert latest == (24.0,), "the newest reading at or before the ingest clock is latest"


def test_a_birth_may_say_its_keepalive(
    service: IngestService, publisher: Publisher, db: psycopg.Connection
) -> None:
    """The alert engine sizes its holds by it; a later birth without one clears it."""

    def keepalive() -> int | None:
        row = db.execute(
            "SELECT keepalive_s FROM device_status WHERE device_id = 'ts-uplink'"
        ).fetchone()
        return None if row is None else row[0]

    topic = publisher.topic("ts-uplink", "status")
    publisher.send_all([(topic, {"state": "online", "keepalive_s": 20})])
    wait_until(lambda: keepalive() == 20, 10, message="keep-alive stored")
    publisher.send_all([(topic, {"state": "online", "keepalive_s": 0})])  # out of range
    wait_until(lambda: count(db, "SELECT count(*) FROM quarantine") == 1, 10, message="refused")
    assert keepalive() == 20
    publisher.send_all([(topic, "online")])
    wait_until(lambda: keepalive() is None, 10, message="plain birth: catalogue default")
