"""What a button press does: ``ioc.ops.actions`` (the one owner) with the channel ``telegram``.

The press's user must be linked, a technician or admin, and see the alert's commune; the
scope is passed down too, so the action itself refuses what the check might have missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from ioc.bounds import clamped_sql
from ioc.ops import actions
from ioc.ops.access import Principal
from ioc.ops.silences import SilenceSpec

SILENCE_FOR = timedelta(hours=2)
CHANNEL: actions.Channel = "telegram"
ALERT = """
SELECT a.id, a.commune_code, a.device_id, a.state, coalesce(d.name, a.device_id) AS device_name,
       a.acknowledged_by, a.assignee
FROM alerts a LEFT JOIN devices d ON d.id = a.device_id WHERE a.id = %(id)s
"""
# Presses on one alert are serialised (webhook requests run in parallel, on any instance).
LOCK_ALERT = "SELECT pg_advisory_xact_lock(hashtextextended('ioc-telegram-press:' || %(id)s, 0))"
# The silence an earlier press on this alert made, while it is in force: a replayed or repeated
# "Tạm tắt 2 giờ" answers with it instead of adding another.
PRESSED_SILENCE = f"""
SELECT id, {clamped_sql("ends_at")} FROM silences
WHERE comment = %(comment)s AND matchers @> %(matcher)s
  AND starts_at <= %(now)s AND ends_at > %(now)s AND (expired_at IS NULL OR expired_at > %(now)s)
ORDER BY id LIMIT 1
"""


@dataclass(frozen=True)
class AlertRef:
    """What a press needs to know about its alert."""

    id: int
    commune_code: str | None
    device_id: str | None
    state: str
    device_name: str | None
    acknowledged_by: str | None = None
    assignee: str | None = None


def load(conn: psycopg.Connection, alert_id: int) -> AlertRef | None:
    """The alert a button names, or None when it is gone."""
    row = conn.execute(ALERT, {"id": alert_id}).fetchone()
    return AlertRef(*row) if row else None


def lock(conn: psycopg.Connection, alert_id: int) -> None:
    """Serialise presses on this alert until the caller's transaction ends."""
    conn.execute(LOCK_ALERT, {"id": str(alert_id)})


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
) -> tuple[int, datetime, bool]:
    """Silence the alert's device for two hours: (silence id, its end, whether it is new).

    An earlier press's silence still in force is returned instead of a second one.
    """
    assert alert.device_id is not None
    matcher = {"label": "device", "op": "=", "value": alert.device_id}
    comment = f"Telegram: #{alert.id}"
    found = conn.execute(
        PRESSED_SILENCE, {"comment": comment, "matcher": Jsonb([matcher]), "now": now}
    ).fetchone()
    if found is not None:
        return int(found[0]), found[1], False
    spec = SilenceSpec.model_validate(
        {"matchers": [matcher], "starts_at": now, "ends_at": now + SILENCE_FOR, "comment": comment}
    )
    made = actions.create_silence(
        conn, spec, actor=user.name, channel=CHANNEL, now=now, scope=user.scope
    )
    return made, now + SILENCE_FOR, True
