"""GET /api/v1/collectors: each edge collector's version, last contact and buffer depth."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import psycopg
from psycopg.types.json import Jsonb

from tests.api.conftest import A, B, World

COLLECTOR = """
INSERT INTO devices (id, type, commune_code, name, interval_s)
VALUES (%(id)s, 'collector', %(commune)s, %(name)s, 30)
"""
EVENT = """
INSERT INTO device_events (time, device_id, seq, type, severity, data)
VALUES (now() - %(ago)s * interval '1 minute', %(id)s, %(seq)s, 'collector_version', 'info',
        %(data)s)
"""
STATUS = """
INSERT INTO device_status (device_id, online, last_seen) VALUES (%(id)s, true, now())
ON CONFLICT (device_id) DO UPDATE SET last_seen = now()
"""
DEPTH = """
INSERT INTO device_latest_points (device_key, metric_id, time, value)
SELECT d.key, m.id, now(), %(depth)s FROM devices d, metrics m
WHERE d.id = %(id)s AND m.name = 'buffer_depth'
"""


def seed_fleet(db: psycopg.Connection) -> None:
    for cid, commune, name in (("col-a", A, "Bộ thu thập A"), ("col-b", B, "Bộ thu thập B")):
        db.execute(COLLECTOR, {"id": cid, "commune": commune, "name": name})
    # col-a was updated: the newest version event wins.
    for seq, (ago, version) in enumerate(((90, "0.0.9"), (5, "0.1.0"))):
        data = Jsonb({"version": version, "inventory_hash": f"{seq:016x}"})
        db.execute(EVENT, {"id": "col-a", "seq": seq, "ago": ago, "data": data})
    db.execute(STATUS, {"id": "col-a"})
    db.execute(DEPTH, {"id": "col-a", "depth": 1234.0})


def test_collectors_list_version_last_contact_buffer_in_scope(
    db: psycopg.Connection,
    world: World,
    client: httpx.Client,
    as_user: Callable[[str], dict[str, str]],
) -> None:
    seed_fleet(db)
    r = client.get("/api/v1/collectors", headers=as_user("operator"))
    assert r.status_code == 200, r.text
    rows = {c["id"]: c for c in r.json()["data"]}
    assert set(rows) == {"col-a", "col-b"}
    assert rows["col-a"]["version"] == "0.1.0"
    assert rows["col-a"]["inventory_hash"] == "0000000000000001"
    assert rows["col-a"]["buffer_depth"] == 1234.0 and rows["col-a"]["last_contact"]
    assert rows["col-b"]["version"] is None and rows["col-b"]["last_contact"] is None
    scoped = client.get("/api/v1/collectors", headers=as_user("op_a")).json()
    assert [c["id"] for c in scoped["data"]] == ["col-a"]
    assert client.get("/api/v1/collectors").status_code == 401
