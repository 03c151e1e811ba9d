"""The audit log: who did what to which object, and when (``details.channel``: where from)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

INSERT_AUDIT = """
INSERT INTO audit_log (actor, action, object_type, object_id, commune_code, details)
VALUES (%(actor)s, %(action)s, %(object_type)s, %(object_id)s, %(commune)s, %(details)s)
"""


def record(
    conn: psycopg.Connection,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int,
    commune: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry (inside the caller's transaction when there is one)."""
    conn.execute(
        INSERT_AUDIT,
        {
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "commune": commune,
            "details": Jsonb(details or {}),
        },
    )
