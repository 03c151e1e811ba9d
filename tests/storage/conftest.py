"""Fixtures for storage tests: a tiny registry and helpers to write raw points."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import psycopg
import pytest

from devices.registry import parse_yaml
from devices.store import import_registry

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
