"""TimescaleDB under Patroni: preloaded on every node through Patroni's parameters, jobs only on
the primary, and the hypertables keep taking writes after a switchover."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.ha.conftest import Ha, start_ha, wait_healthy
from tests.plugins.pgcluster import timescaledb_missing
from tests.util import wait_until

pytestmark = pytest.mark.timeout(300)

SCHEDULERS = """
SELECT count(*) FROM pg_stat_activity
WHERE backend_type = 'TimescaleDB Background Worker Scheduler' AND datname = 'ioc'
"""
WRITE = """
INSERT INTO telemetry_points (time, value, device_key, metric_id)
VALUES (now() - interval '1 minute', 1.0, 1, 1)
"""


@pytest.fixture(scope="module")
def ts_ha() -> Iterator[Ha]:
    why = timescaledb_missing()
    if why:
        pytest.skip(why)
    cluster = start_ha(["--timescaledb"])
    try:
        yield cluster
    finally:
        cluster.close()


def node_roles(ha: Ha) -> dict[str, str]:
    """Member name -> "leader" | "replica"."""
    return {m["name"]: m["role"] for m in ha.members()}


def one(url: str, query: str) -> object:
    with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
        row = conn.execute(query).fetchone()
    return row[0] if row else None


def test_timescaledb_everywhere_jobs_on_the_primary_only(ts_ha: Ha) -> None:
    ha = ts_ha
    for name in node_roles(ha):
        url = ha.node_url(name)
        assert "timescaledb" in str(one(url, "SHOW shared_preload_libraries"))
        assert one(url, "SELECT count(*) FROM timescaledb_information.hypertables") != 0
    leader = ha.leader()
    assert leader is not None
    wait_until(lambda: one(ha.node_url(leader), SCHEDULERS) == 1, 30, 0.3, message="scheduler")
    replica = next(n for n, role in node_roles(ha).items() if n != leader)
    assert one(ha.node_url(replica), SCHEDULERS) == 0, "policies would run twice"

    wait_healthy(ha)  # the replica is the synchronous standby: a switchover may go to it
    old, new = ha.switchover()
    wait_until(lambda: ha.leader() == new, 60, 0.3, message=f"{new} leads")
    wait_until(lambda: one(ha.node_url(new), SCHEDULERS) == 1, 30, 0.3, message="scheduler")
    with psycopg.connect(ha.url, connect_timeout=5) as conn:
        assert conn.execute(WRITE).rowcount == 1
    out = ha.ioc("maintain", "--once")
    assert out.returncode == 0, out.stderr[-2000:]
    wait_healthy(ha)
    assert one(ha.node_url(old), SCHEDULERS) == 0
