"""Every dashboard query runs, as the read-only Grafana role, on a database the simulator fed.

Each panel is run over three ranges ending at the seeded window's end, so that each
resolution tier (raw, 5-minute, hourly rollups) is exercised.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from grafana.macros import Variable, render
from grafana.runner import (
    Query,
    context,
    execute,
    load_dashboards,
    panel_queries,
    resolve_variables,
    variable_queries,
)
from tests.grafana.seed import COMMUNE, Window

BOARDS = load_dashboards()
PANELS = [q for b in BOARDS for q in panel_queries(b)]
VARIABLES = [q for b in BOARDS for q in variable_queries(b)]
# Ranges ending at the seeded window's end: raw points (<= 3 h), 5-minute and hourly rollups.
TIERS = {"raw": timedelta(hours=2, minutes=30), "5m": timedelta(days=2), "1h": timedelta(days=30)}


@pytest.fixture(scope="module")
def grafana_conn(dashboard_db: tuple[str, Window]) -> Iterator[psycopg.Connection]:
    """An autocommit connection acting as the read-only ``ioc_grafana`` role."""
    url, _ = dashboard_db
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET ROLE ioc_grafana")
        conn.execute("SET statement_timeout = '10s'")
        yield conn


def _range(window: Window, tier: str) -> tuple[datetime, datetime]:
    return window.end - TIERS[tier], window.end


def _variables(
    conn: psycopg.Connection, query: Query, start: datetime, end: datetime
) -> dict[str, Variable]:
    board = next(b for b in BOARDS if b["uid"] == query.dashboard)
    return resolve_variables(conn, board, start, end)


def test_the_role_is_read_only(grafana_conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        grafana_conn.execute("DELETE FROM alerts")


def test_every_panel_is_found() -> None:
    assert len(BOARDS) == 6
    assert len(PANELS) >= 40
    assert all(q.sql.strip() for q in PANELS)


@pytest.mark.parametrize("query", VARIABLES, ids=lambda q: q.name)
def test_variable_query(
    grafana_conn: psycopg.Connection, dashboard_db: tuple[str, Window], query: Query
) -> None:
    _, window = dashboard_db
    variables = _variables(grafana_conn, query, window.start, window.end)
    name = query.title.removeprefix("$")
    assert variables[name].options, f"variable {name} has no options"
    if name == "commune":
        assert variables[name].options == [COMMUNE]


@pytest.mark.parametrize("tier", list(TIERS))
@pytest.mark.parametrize("query", PANELS, ids=lambda q: q.name)
def test_panel_query(
    grafana_conn: psycopg.Connection, dashboard_db: tuple[str, Window], query: Query, tier: str
) -> None:
    _, window = dashboard_db
    start, end = _range(window, tier)
    ctx = context(start, end, _variables(grafana_conn, query, start, end), query.min_interval)
    sql = render(query.sql, ctx)
    assert "$" not in sql.replace("$$", ""), f"unexpanded macro or variable in:\n{sql}"
    columns, rows = execute(grafana_conn, sql)
    assert rows, f"{query.name} returned no rows over {tier}:\n{sql}"
    check_shape(query, columns, rows)


def check_shape(query: Query, columns: list[str], rows: list[tuple[object, ...]]) -> None:
    """The columns Grafana needs for the panel's format and options."""
    if query.fmt == "time_series":
        assert "time" in columns, f"{query.name}: time series without a time column"
        values = [i for i, c in enumerate(columns) if c not in ("time", "metric")]
        assert values, f"{query.name}: no value column"
        assert all(
            r[i] is None or isinstance(r[i], numbers.Number) for r in rows for i in values
        ), f"{query.name}: non-numeric value column in {columns}"
        if "metric" in columns:
            assert all(isinstance(r[columns.index("metric")], str) for r in rows)
        times: list[Any] = [r[columns.index("time")] for r in rows]
        assert times == sorted(times), f"{query.name}: not sorted by time"
    if query.columns is not None:
        assert columns == list(query.columns), f"{query.name}: columns {columns}"
    if query.panel_type == "geomap":
        assert {"latitude", "longitude", "state"} <= set(columns)
    if query.panel_type in ("stat", "bargauge"):
        assert any(isinstance(v, numbers.Number) for v in rows[0]), query.name
