"""What a button press does, through the engine's own acknowledge / assign / silence code.

The one shared owner of these actions is to be ``ioc.actions``; until then the press goes
through ``alerts.actions`` and ``alerts.silences`` (the code the engine already has), and only
this module changes when it moves. Every action is audited with the channel ``telegram``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from alerts import actions
from alerts.silences import create_silence, matchers_for
from ioc import audit
from ioc.access import Principal

SILENCE_FOR = timedelta(hours=2)
VIA = {"channel": "telegram"}
ALERT = """
SELECT a.id, a.commune_code, a.device_id, a.state, coalesce(d.name, a.device_id) AS device_name
FROM alerts a LEFT JOIN devices d ON d.id = a.device_id WHERE a.id = %(id)s
"""


@dataclass(frozen=True)
class AlertRef:
    """What a press needs to know about its alert."""

    id: int
    commune_code: str | None
    device_id: str | None
    state: str
    device_name: str | None


def load(conn: psycopg.Connection, alert_id: int) -> AlertRef | None:
    """The alert a button names, or None when it is gone."""
    row = conn.execute(ALERT, {"id": alert_id}).fetchone()
    return AlertRef(*row) if row else None


def acknowledge(
    conn: psycopg.Connection, user: Principal, alert: AlertRef, note: str, now: datetime
) -> bool:
    """Acknowledge; False when the alert is resolved."""
    with conn.transaction():
        if not actions.acknowledge(conn, alert.id, user.name, note, now):
            return False
        audit.record(
            conn, user.name, "ack", "alert", alert.id, alert.commune_code, {"note": note, **VIA}
        )
    return True


def assign_to_self(
    conn: psycopg.Connection, user: Principal, alert: AlertRef, now: datetime
) -> bool:
    """Assign the alert to the pressing user."""
    with conn.transaction():
        if not actions.assign(conn, alert.id, user.name, user.name, now):
            return False
        audit.record(
            conn,
            user.name,
            "assign",
            "alert",
            alert.id,
            alert.commune_code,
            {"assignee": user.name, **VIA},
        )
    return True


def silence_device(
    conn: psycopg.Connection, user: Principal, alert: AlertRef, now: datetime
) -> int:
    """Silence the alert's device for two hours; return the silence id."""
    assert alert.device_id is not None
    matchers = matchers_for(device=alert.device_id)
    comment = f"Telegram: #{alert.id}"
    with conn.transaction():
        silence_id = create_silence(
            conn,
            matchers=matchers,
            starts_at=now,
            ends_at=now + SILENCE_FOR,
            created_by=user.name,
            comment=comment,
        )
        audit.record(
            conn,
            user.name,
            "create",
            "silence",
            silence_id,
            alert.commune_code,
            {
                "matchers": matchers,
                "ends_at": (now + SILENCE_FOR).isoformat(),
                "comment": comment,
                **VIA,
            },
        )
    return silence_id
