"""The dashboards on TimescaleDB: $__timeGroup becomes time_bucket() (datasource option on)."""

from __future__ import annotations

import psycopg
import pytest

from grafana.macros import render
from grafana.runner import context, execute, resolve_variables
from tests.grafana.seed import Window
from tests.grafana.test_queries import BOARDS, PANELS, TIERS, check_shape

pytestmark = pytest.mark.timescaledb


def _timescaledb(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return bool(row and row[0])


def test_every_panel_on_timescaledb(db: psycopg.Connection, request: pytest.FixtureRequest) -> None:
    if not _timescaledb(db):
        pytest.skip(
            "the test PostgreSQL server has no TimescaleDB preloaded (CI runs this with "
            "IOC_TEST_TIMESCALEDB=1: a test-owned TimescaleDB cluster)"
        )
    url, window = request.getfixturevalue("dashboard_db")
    assert isinstance(window, Window)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET ROLE ioc_grafana")
        failures = []
        for tier, span in TIERS.items():
            start = window.end - span
            for query in PANELS:
                board = next(b for b in BOARDS if b["uid"] == query.dashboard)
                variables = resolve_variables(conn, board, start, window.end, timescaledb=True)
                ctx = context(start, window.end, variables, query.min_interval, timescaledb=True)
                try:
                    columns, rows = execute(conn, render(query.sql, ctx))
                    assert rows, "no rows"
                    check_shape(query, columns, rows)
                except (psycopg.Error, AssertionError) as exc:
                    failures.append(f"{query.name} [{tier}]: {exc}")
        assert not failures, "\n".join(failures)
