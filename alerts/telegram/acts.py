"""What a button press does: ``ioc.actions`` (the one owner) with the channel ``telegram``.

The press's user must be linked, a technician or admin, and see the alert's commune; the
scope is passed down too, so the action itself refuses what the check might have missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from ioc import actions
from ioc.access import Principal
from ioc.silences import SilenceSpec

SILENCE_FOR = timedelta(hours=2)
CHANNEL: actions.Channel = "telegram"
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
    """Acknowledge; False when the alert is resolved (or out of scope)."""
    result = actions.acknowledge(
        conn, alert.id, actor=user.name, note=note, channel=CHANNEL, now=now, scope=user.scope
    )
    return result.ok


def assign_to_self(
    conn: psycopg.Connection, user: Principal, alert: AlertRef, now: datetime
) -> bool:
    """Assign the alert to the pressing user."""
    result = actions.assign(
        conn,
        alert.id,
        assignee=user.name,
        actor=user.name,
        channel=CHANNEL,
        now=now,
        scope=user.scope,
    )
    return result.ok


def silence_device(
    conn: psycopg.Connection, user: Principal, alert: AlertRef, now: datetime
) -> int:
    """Silence the alert's device for two hours; return the silence id."""
    assert alert.device_id is not None
    spec = SilenceSpec.model_validate(
        {
            "matchers": [{"label": "device", "op": "=", "value": alert.device_id}],
            "starts_at": now,
            "ends_at": now + SILENCE_FOR,
            "comment": f"Telegram: #{alert.id}",
        }
    )
    return actions.create_silence(
        conn, spec, actor=user.name, channel=CHANNEL, now=now, scope=user.scope
    )
