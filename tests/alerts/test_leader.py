"""Leader election: one active engine, a standby takes over when the leader's session dies."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from alerts.engine import AlertEngine, LostLeadership
from alerts.rules import parse_rules
from alerts.settings import AlertSettings
from tests.alerts.conftest import alerts, report, report_all
from tests.util import wait_until

RULES = "rules:\n  - {name: offline, kind: absence, types: [camera, speaker, link, nvr]}\n"


@pytest.fixture
def engines(db_url: str) -> Iterator[tuple[AlertEngine, AlertEngine]]:
    """Two engines with their own pools, as two `ioc alerts` processes would have."""
    settings = AlertSettings(
        evaluation_interval_s=0.1,
        leader_retry_s=0.2,
        pipeline_heartbeat_s=0,
        pipeline_silence_s=0,
    )
    pools = [ConnectionPool(db_url, min_size=1, max_size=3, open=True) for _ in range(2)]
    pair = tuple(AlertEngine(settings, p, rules=parse_rules(RULES)) for p in pools)
    yield pair  # type: ignore[misc]
    for engine in pair:
        engine.stop()
    for p in pools:
        p.close()


def firing(conn: psycopg.Connection) -> list[str]:
    return sorted(a["device_id"] for a in alerts(conn, "offline", "firing"))


def test_failover_without_duplicates(
    fleet: psycopg.Connection, engines: tuple[AlertEngine, AlertEngine]
) -> None:
    a, b = engines
    report_all(fleet, datetime.now(UTC))
    a.start()
    wait_until(lambda: a.leader.is_leader, 10, message="engine A leads")
    b.start()
    wait_until(
        lambda: b.last_result is None and b.leader.conn is not None, 10, message="B stands by"
    )
    assert not b.leader.is_leader

    report(fleet, "solo", datetime.now(UTC), online=False)
    wait_until(lambda: firing(fleet) == ["solo"], 10, message="A fires the alert")

    # A hangs and its session is killed: the server frees the lock, B takes over.
    assert a.scheduler is not None
    a.scheduler.pause()
    pid = a.leader.pid
    fleet.execute("SELECT pg_terminate_backend(%s)", (pid,))
    wait_until(lambda: b.leader.is_leader, 10, message="B takes over")
    report(fleet, "spk-1", datetime.now(UTC), online=False)
    report(fleet, "up1", datetime.now(UTC))  # its uplink speaks after: a genuine outage
    wait_until(lambda: firing(fleet) == ["solo", "spk-1"], 10, message="B fires a new alert")

    # A comes back: its evaluation is fenced and it stays standby.
    with pytest.raises(LostLeadership):
        a.leader.is_leader = True  # as A still believes
        a.evaluate_once(fenced=True)
    assert not a.tick()
    assert not a.leader.is_leader
    a.scheduler.resume()
    report(fleet, "spk-2", datetime.now(UTC), online=False)
    report(fleet, "up1", datetime.now(UTC))
    wait_until(lambda: len(firing(fleet)) == 3, 10, message="third alert")
    assert b.leader.is_leader and not a.leader.is_leader
    rows = fleet.execute(
        "SELECT fingerprint, count(*) FROM alerts GROUP BY 1 HAVING count(*) > 1"
    ).fetchall()
    assert rows == []
    dup_history = fleet.execute(
        "SELECT alert_id, action, count(*) FROM alert_history GROUP BY 1, 2 HAVING count(*) > 1"
    ).fetchall()
    assert dup_history == []
