"""Operator actions on alerts (acknowledge, assign), with history rows. Plain SQL.

Acknowledging records who and why; it never stops the alert from resolving, and a resolved
notification still follows a notified firing.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from alerts.lifecycle import history

ACK_SQL = """
UPDATE alerts SET acknowledged_at = %(now)s, acknowledged_by = %(actor)s, ack_note = %(note)s,
    updated_at = %(now)s
WHERE id = %(id)s AND state <> 'resolved'
RETURNING id
"""
ASSIGN_SQL = """
UPDATE alerts SET assignee = %(assignee)s, updated_at = %(now)s
WHERE id = %(id)s
RETURNING id
"""


def acknowledge(
    conn: psycopg.Connection, alert_id: int, actor: str, note: str, now: datetime
) -> bool:
    """Acknowledge an open alert; False when it is resolved or unknown."""
    with conn.transaction():
        if (
            conn.execute(
                ACK_SQL, {"id": alert_id, "actor": actor, "note": note, "now": now}
            ).fetchone()
            is None
        ):
            return False
        history(conn, alert_id, now, "acknowledged", actor=actor, note=note)
    return True


def assign(
    conn: psycopg.Connection, alert_id: int, assignee: str | None, actor: str, now: datetime
) -> bool:
    """Assign an alert to someone (None clears); False when the alert is unknown."""
    with conn.transaction():
        row = conn.execute(
            ASSIGN_SQL, {"id": alert_id, "assignee": assignee, "now": now}
        ).fetchone()
        if row is None:
            return False
        history(conn, alert_id, now, "assigned", actor=actor, data={"assignee": assignee})
    return True
