"""The foundation: migrations are idempotent and the stable SQL surface exists."""

from __future__ import annotations

import psycopg

from ioc import migrate


def test_migrate_twice_changes_nothing(db_url: str) -> None:
    assert migrate.apply(db_url) == []
    assert migrate.pending(db_url) == []


def test_stable_sql_surface(db: psycopg.Connection) -> None:
    expected = {
        "devices": ["id", "type", "commune_code", "site_id", "parent_id", "name", "lat", "lon"],
        "telemetry": ["time", "device_id", "metric", "value"],
        "device_events": ["time", "device_id", "type", "data"],
        "quarantine": ["received_at", "topic", "reason", "payload"],
    }
    for relation, columns in expected.items():
        rows = db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
            (relation,),
        ).fetchall()
        present = {r[0] for r in rows}
        assert set(columns) <= present, (relation, set(columns) - present)
