"""The single writer of ``alert_history`` (alerts' timelines) and of ``audit_log``.

Every module that appends to an alert's timeline or to the audit log calls one of these, so
the columns and their meaning live in one place. They run inside the caller's transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

# One timeline entry.
ONE_SQL = """
INSERT INTO alert_history (alert_id, time, action, actor, note, data)
VALUES (%(id)s, %(now)s, %(action)s, %(actor)s, %(note)s, %(data)s)
"""
# The same entry on many alerts; no time = the database's clock at the statement.
MANY_SQL = """
INSERT INTO alert_history (alert_id, time, action, actor, note, data)
SELECT unnest(%(ids)s::bigint[]), COALESCE(%(now)s::timestamptz, clock_timestamp()),
       %(action)s, %(actor)s, %(note)s, %(data)s
"""
# As MANY_SQL, skipping ids whose alert is gone (deleted while a message was under way).
MANY_EXISTING_SQL = """
INSERT INTO alert_history (alert_id, time, action, actor, note, data)
SELECT a, COALESCE(%(now)s::timestamptz, clock_timestamp()), %(action)s, %(actor)s, %(note)s,
       %(data)s
FROM unnest(%(ids)s::bigint[]) a WHERE EXISTS (SELECT 1 FROM alerts WHERE id = a)
"""
# Different entries in one statement (column arrays, see ``write_rows``).
ROWS_SQL = """
INSERT INTO alert_history (alert_id, time, action, actor, note, data)
SELECT * FROM unnest(%(alert_id)b::bigint[], %(time)b::timestamptz[], %(action)b::text[],
                     %(actor)b::text[], %(note)b::text[], %(data)b::jsonb[])
"""
AUDIT_SQL = """
INSERT INTO audit_log (time, actor, action, object_type, object_id, commune_code, details)
VALUES (%(now)s, %(actor)s, %(action)s, %(object_type)s, %(object_id)s, %(commune)s,
        %(details)s)
"""


def record(
    conn: psycopg.Connection,
    alert_id: int,
    now: datetime,
    action: str,
    *,
    actor: str | None,
    note: str | None,
    data: dict[str, Any],
) -> None:
    """Append one entry to an alert's timeline."""
    conn.execute(
        ONE_SQL,
        {"id": alert_id, "now": now, "action": action, "actor": actor, "note": note,
         "data": Jsonb(data)},
    )  # fmt: skip


def record_many(
    conn: psycopg.Connection,
    alert_ids: list[int],
    action: str,
    *,
    now: datetime | None,
    actor: str | None,
    note: str | None,
    data: dict[str, Any],
    only_existing: bool = False,
) -> None:
    """Append the same entry to each alert's timeline (``now`` None = the database's clock).

    ``only_existing`` skips alerts that no longer exist instead of failing.
    """
    conn.execute(
        MANY_EXISTING_SQL if only_existing else MANY_SQL,
        {"ids": alert_ids, "now": now, "action": action, "actor": actor, "note": note,
         "data": Jsonb(data)},
    )  # fmt: skip


def row(
    alert_id: int,
    now: datetime,
    action: str,
    *,
    actor: str | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Parameters of one alert_history row, for ``write_rows``."""
    return {
        "alert_id": alert_id,
        "time": now,
        "action": action,
        "actor": actor,
        "note": note,
        "data": Jsonb(data or {}),
    }


def write_rows(conn: psycopg.Connection, rows: list[dict[str, Any]]) -> None:
    """Append rows built by ``row`` to alerts' timelines (one statement)."""
    if rows:
        conn.execute(ROWS_SQL, {key: [r[key] for r in rows] for key in rows[0]})


def audit(
    conn: psycopg.Connection,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int,
    commune: str | None = None,
    details: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> None:
    """Append one audit entry (inside the caller's transaction when there is one)."""
    conn.execute(
        AUDIT_SQL,
        {
            "now": now if now is not None else datetime.now(UTC),
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "commune": commune,
            "details": Jsonb(details or {}),
        },
    )
