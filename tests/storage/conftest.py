"""Fixtures for storage tests: a tiny registry and helpers to write raw points."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg
import pytest

from devices.registry import parse_yaml
from devices.store import import_registry
from storage.settings import (
    AvailabilitySettings,
    ReportSettings,
    RetentionSettings,
    RollupSettings,
    StorageSetup,
)

REGISTRY = """
communes:
  - code: "21025"
    name: "Xã Tịnh Sơn"
    province: "Quảng Ngãi"
    sites:
      - {id: s-ubnd, name: "UBND xã"}
      - {id: s-thon, name: "Thôn An Thọ"}
devices:
  - {id: up, type: link, commune: "21025", site: s-ubnd, name: "Cáp quang"}
  - {id: cam1, type: camera, commune: "21025", site: s-thon, parent: up, name: "Camera 1"}
  - {id: cam2, type: camera, commune: "21025", site: s-thon, parent: up, name: "Camera 2"}
  - {id: cam3, type: camera, commune: "21025", site: s-thon, parent: up, name: "Camera 3"}
  - {id: spk, type: speaker, commune: "21025", site: s-ubnd, name: "Cụm loa UBND"}
"""


def storage_setup(
    *,
    retention: dict[str, Any] | None = None,
    rollup: dict[str, Any] | None = None,
    availability: dict[str, Any] | None = None,
    report: dict[str, Any] | None = None,
) -> StorageSetup:
    """Storage settings for a test (nothing from .env): each part's fields, else defaults."""
    parts = (
        (RetentionSettings, retention),
        (RollupSettings, rollup),
        (AvailabilitySettings, availability),
        (ReportSettings, report),
    )
    for cls, given in parts:
        unknown = set(given or {}) - set(cls.model_fields)
        assert not unknown, f"{cls.__name__} has no {sorted(unknown)}"  # else silently ignored
    return StorageSetup(
        RetentionSettings(_env_file=None, **(retention or {})),
        RollupSettings(_env_file=None, **(rollup or {})),
        AvailabilitySettings(_env_file=None, **(availability or {})),
        ReportSettings(_env_file=None, **(report or {})),
    )


@pytest.fixture
def registry(db: psycopg.Connection) -> dict[str, int]:
    """Import the tiny registry; return device keys by id."""
    with psycopg.connect(db.info.dsn) as conn:
        import_registry(conn, parse_yaml(REGISTRY, "test"), "test")
        conn.commit()
    return dict(db.execute("SELECT id, key FROM devices").fetchall())


def metric_id(conn: psycopg.Connection, name: str) -> int:
    """Id of a catalogue metric."""
    row = conn.execute("SELECT id FROM metrics WHERE name = %s", (name,)).fetchone()
    assert row is not None
    return int(row[0])


def write_points(
    conn: psycopg.Connection, rows: Iterable[tuple[datetime, float, int, int]]
) -> None:
    """COPY (time, value, device_key, metric_id) rows into telemetry_points."""
    with (
        conn.cursor() as cur,
        cur.copy("COPY telemetry_points (time, value, device_key, metric_id) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


MATERIALIZED = """
SELECT format('%%I.%%I', materialization_hypertable_schema, materialization_hypertable_name)
FROM timescaledb_information.continuous_aggregates WHERE view_name = %(view)s
"""
JOBS = """
SELECT job_id FROM timescaledb_information.jobs
WHERE proc_name = ANY(%(procs)s) AND hypertable_schema = 'public' ORDER BY job_id
"""


def timescale(conn: psycopg.Connection) -> bool:
    """True on the TimescaleDB path."""
    row = conn.execute("SELECT ioc_timescaledb()").fetchone()
    return bool(row and row[0])


def materialized(conn: psycopg.Connection, res: str) -> str:
    """The relation holding only the materialized rollup rows of ``res`` ('5m' or '1h').

    Plain: the rollup table. TimescaleDB: the continuous aggregate's materialization
    hypertable (same columns; the view adds the real-time tail on top).
    """
    if not timescale(conn):
        return f"telemetry_rollup_{res}"
    row = conn.execute(MATERIALIZED, {"view": f"telemetry_cagg_{res}"}).fetchone()
    assert row is not None
    return str(row[0])


def run_jobs(conn: psycopg.Connection, *procs: str) -> list[int]:
    """Run TimescaleDB policy jobs now (``CALL run_job``), as the scheduler would; their ids.

    Tests call jobs rather than wait for the scheduler (see ../shared/timescaledb/README.md).
    """
    ids = [r[0] for r in conn.execute(JOBS, {"procs": list(procs)}).fetchall()]
    for job_id in ids:
        conn.execute("CALL run_job(%s)", (job_id,))
    return ids
