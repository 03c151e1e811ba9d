"""Alert engine fixtures: a small commune with topology, data writers, an engine factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from alerts.engine import AlertEngine
from alerts.rules import parse_rules_file
from alerts.settings import AlertSettings
from devices.catalogue import get_type
from tests.alerts.chatapps import seed_world
from tests.api.conftest import World

COMMUNE = "21025"
# up1 (fiber uplink) → 8 cameras + 4 speakers; core has two parents (up1, g4); cam-core behind
# core; solo has no parent.
BEHIND_UPLINK = [f"cam-{i:02d}" for i in range(1, 9)] + [f"spk-{i}" for i in range(1, 5)]


def _device(
    conn: psycopg.Connection, device_id: str, dtype: str, name: str, parents: list[str]
) -> None:
    conn.execute(
        "INSERT INTO devices (id, type, commune_code, site_id, parent_id, name, interval_s)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            device_id,
            dtype,
            COMMUNE,
            "s-ubnd",
            parents[0] if parents else None,
            name,
            get_type(dtype).interval_s,
        ),
    )
    for parent in parents:
        conn.execute(
            "INSERT INTO device_parents (device_id, parent_id) VALUES (%s, %s)", (device_id, parent)
        )


@pytest.fixture
def fleet(db: psycopg.Connection) -> psycopg.Connection:
    """The test commune's registry; returns the autocommit connection."""
    db.execute(
        "INSERT INTO communes (code, name, province) VALUES (%s, 'Xã Tịnh Sơn', 'Quảng Ngãi')",
        (COMMUNE,),
    )
    db.execute(
        "INSERT INTO sites (id, commune_code, name) VALUES ('s-ubnd', %s, 'UBND xã')", (COMMUNE,)
    )
    with db.transaction():
        _device(db, "up1", "link", "Cáp quang UBND", [])
        _device(db, "g4", "link", "Đường dự phòng 4G", [])
        _device(db, "core", "link", "Switch lõi", ["up1", "g4"])
        _device(db, "cam-core", "camera", "Camera cổng", ["core"])
        _device(db, "nvr-1", "nvr", "Đầu ghi 1", ["core"])
        _device(db, "solo", "speaker", "Cụm loa chợ", [])
        for i, device_id in enumerate(BEHIND_UPLINK):
            dtype = "camera" if device_id.startswith("cam") else "speaker"
            _device(db, device_id, dtype, f"Thiết bị {i + 1}", ["up1"])
    return db


ALL_DEVICES = ["up1", "g4", "core", "cam-core", "nvr-1", "solo", *BEHIND_UPLINK]


def report(conn: psycopg.Connection, device: str, at: datetime, online: bool = True) -> None:
    """A message from ``device`` arrived at ``at`` (status upsert as ingest does)."""
    conn.execute(
        """
        INSERT INTO device_status (device_id, online, status_time, last_seen, last_received_at)
        VALUES (%(d)s, %(o)s, %(t)s, %(t)s, %(t)s)
        ON CONFLICT (device_id) DO UPDATE SET online = excluded.online,
            status_time = excluded.status_time, last_seen = excluded.last_seen,
            last_received_at = excluded.last_received_at
        """,
        {"d": device, "o": online, "t": at},
    )


def report_all(conn: psycopg.Connection, at: datetime, devices: list[str] | None = None) -> None:
    """Every (given) device reported at ``at``."""
    for device in devices or ALL_DEVICES:
        report(conn, device, at)


def metric(conn: psycopg.Connection, device: str, name: str, value: float, at: datetime) -> None:
    """Latest value of a metric."""
    conn.execute(
        """
        INSERT INTO device_latest_points (device_key, metric_id, time, value)
        SELECT d.key, m.id, %s, %s FROM devices d, metrics m WHERE d.id = %s AND m.name = %s
        ON CONFLICT (device_key, metric_id) DO UPDATE SET time = excluded.time, value = excluded.value
        """,
        (at, value, device, name),
    )


def event(
    conn: psycopg.Connection,
    device: str,
    etype: str,
    at: datetime,
    data: dict[str, Any] | None = None,
    seq: int = 1,
    received: datetime | None = None,
) -> None:
    """A device event stamped ``at`` by the device, arriving at ``received`` (default ``at``)."""
    conn.execute(
        "INSERT INTO device_events (time, device_id, seq, type, data, received_at)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (at, device, seq, etype, Jsonb(data or {}), received or at),
    )


def alerts(
    conn: psycopg.Connection, rule: str | None = None, state: str | None = None
) -> list[dict[str, Any]]:
    """Alert rows as dicts (ordered by id), optionally by rule and state."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM alerts WHERE (%(r)s::text IS NULL OR rule = %(r)s)"
            " AND (%(s)s::text IS NULL OR state = %(s)s) ORDER BY id",
            {"r": rule, "s": state},
        ).fetchall()


def actions(conn: psycopg.Connection, alert_id: int) -> list[str]:
    """The history actions of an alert, in order."""
    rows = conn.execute(
        "SELECT action FROM alert_history WHERE alert_id = %s ORDER BY time, id", (alert_id,)
    ).fetchall()
    return [r[0] for r in rows]


@pytest.fixture
def t0() -> datetime:
    """A base instant close to the wall clock (registry rows use now())."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)


@pytest.fixture
def pool(db_url: str) -> Iterator[ConnectionPool]:
    """A small pool on the test database."""
    p = ConnectionPool(db_url, min_size=1, max_size=4, open=True)
    p.wait(10)
    yield p
    p.close()


@pytest.fixture
def world(db: psycopg.Connection) -> World:
    """The chat apps' world: two communes with alerts and the API's test users."""
    return seed_world(db)


EngineFactory = Callable[..., AlertEngine]


@pytest.fixture
def make_engine(pool: ConnectionPool) -> Iterator[EngineFactory]:
    """Build engines: ``make_engine(rules_yaml=None, **settings)``; stopped at teardown."""
    built: list[AlertEngine] = []

    def make(rules_yaml: str | None = None, **overrides: Any) -> AlertEngine:
        values: dict[str, Any] = {"pipeline_silence_s": 0, "pipeline_heartbeat_s": 0}
        values.update(overrides)
        settings = AlertSettings(**values)
        parsed = parse_rules_file(rules_yaml) if rules_yaml is not None else None
        engine = AlertEngine(
            settings,
            pool,
            rules=[r for r in parsed.rules if r.enabled] if parsed else None,
            inhibit_rules=parsed.inhibit_rules if parsed else None,
        )
        built.append(engine)
        return engine

    yield make
    for engine in built:
        engine.stop()
