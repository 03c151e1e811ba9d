"""Run the dashboards' queries without Grafana: load JSON, resolve variables, expand, execute.

Used by the dashboard tests and by ``bench/dashboards.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from grafana.macros import Context, Variable, calculate_interval_ms, render

DASHBOARDS = Path(__file__).resolve().parent / "dashboards"
DATASOURCE_MIN_INTERVAL = "1m"  # jsonData.timeInterval of the provisioned datasource
MAX_DATA_POINTS = 1000  # about the width in pixels of a full-width panel


@dataclass(frozen=True)
class Query:
    """One SQL target of a panel (or a variable's query)."""

    dashboard: str
    title: str
    panel_type: str
    fmt: str
    sql: str
    min_interval: str | None = None
    columns: tuple[str, ...] | None = None  # a table's columns, from its organize transform

    @property
    def name(self) -> str:
        return f"{self.dashboard}/{self.title}"


def load_dashboards(directory: Path = DASHBOARDS) -> list[dict[str, Any]]:
    """Every dashboard JSON file, parsed."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.json"))]


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def panel_queries(board: dict[str, Any]) -> list[Query]:
    """The SQL targets of every panel of a dashboard."""
    found = []
    for panel in _panels(board["panels"]):
        columns = None
        for transform in panel.get("transformations", []):
            if transform["id"] == "organize":
                index = transform["options"]["indexByName"]
                columns = tuple(sorted(index, key=index.__getitem__))
        for target in panel.get("targets", []):
            found.append(
                Query(
                    board["uid"],
                    panel["title"],
                    panel["type"],
                    target.get("format", "time_series"),
                    target["rawSql"],
                    panel.get("interval"),
                    columns,
                )
            )
    return found


def variable_queries(board: dict[str, Any]) -> list[Query]:
    """The query variables of a dashboard, in dependency (declaration) order."""
    return [
        Query(board["uid"], f"${v['name']}", "variable", "table", v["query"])
        for v in board["templating"]["list"]
        if v["type"] == "query"
    ]


def context(
    start: datetime,
    end: datetime,
    variables: dict[str, Variable],
    min_interval: str | None = None,
    timescaledb: bool = False,
) -> Context:
    """The expansion context Grafana builds for a panel over ``[start, end]``."""
    interval = calculate_interval_ms(
        start, end, MAX_DATA_POINTS, min_interval or DATASOURCE_MIN_INTERVAL
    )
    return Context(start, end, interval, variables, timescaledb)


def resolve_variables(
    conn: psycopg.Connection,
    board: dict[str, Any],
    start: datetime,
    end: datetime,
    timescaledb: bool = False,
) -> dict[str, Variable]:
    """Run the variable queries in order, each with All selected, like a dashboard load."""
    resolved: dict[str, Variable] = {}
    for spec in board["templating"]["list"]:
        if spec["type"] != "query":
            continue
        sql = render(spec["query"], context(start, end, resolved, timescaledb=timescaledb))
        columns, rows = execute(conn, sql)
        value_col = columns.index("__value") if "__value" in columns else 0
        resolved[spec["name"]] = Variable(
            spec["name"],
            [str(r[value_col]) for r in rows],
            multi=spec.get("multi", False),
            include_all=spec.get("includeAll", False),
            all_value=spec.get("allValue") or None,
        )
    return resolved


def execute(conn: psycopg.Connection, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one expanded query; returns column names and rows."""
    with conn.cursor() as cur:
        cur.execute(sql.encode())
        columns = [c.name for c in cur.description or []]
        return columns, cur.fetchall()
