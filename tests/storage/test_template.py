"""The template-database fixture on a TimescaleDB server whose scheduler is running.

The launcher starts a scheduler (one open connection) in every database that allows
connections and restarts it after ``stop_background_workers()``; ``CREATE DATABASE ...
TEMPLATE`` fails while it is connected. ``quiesce_template`` closes the template instead.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.plugins import postgres
from tests.plugins.pgcluster import PgCluster, timescaledb_missing
from tests.util import wait_until

SCHEDULERS = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = %(name)s AND backend_type LIKE 'TimescaleDB Background Worker Scheduler%%'
"""


@pytest.fixture
def scheduled_cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[PgCluster]:
    missing = timescaledb_missing()
    if missing:
        pytest.skip(missing)
    cluster = PgCluster(timescaledb=True, scheduler=True).create()
    monkeypatch.setattr(postgres, "ADMIN_URL", cluster.admin_url)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.mark.timescaledb
def test_clones_of_a_template_never_meet_its_scheduler(scheduled_cluster: PgCluster) -> None:
    name = "ioc_tmpl_probe"
    with psycopg.connect(scheduled_cluster.admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
        postgres.migrate_database(postgres.url_for(name))
        wait_until(
            lambda: admin.execute(SCHEDULERS, {"name": name}).fetchone() == (1,),
            timeout=60,
            message="TimescaleDB's scheduler connected to the template",
        )
        postgres.quiesce_template(name)
        clones = [postgres.clone_database(name, attempts=1) for _ in range(12)]
        assert admin.execute(SCHEDULERS, {"name": name}).fetchone() == (0,)
        for clone in clones:
            with psycopg.connect(postgres.url_for(clone)) as conn:
                assert conn.execute("SELECT ioc_timescaledb()").fetchone() == (True,)
            postgres.drop_database(clone)
