"""The tick's SQL: ``read`` what the planner needs, ``apply`` the plan it returns.

Both run in the tick's one transaction, which holds the tick lock (see ``service.tick``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb

from alerts.notify.model import AlertInfo, GroupState, Note, Plan, TickState
from ioc.ops import history

# Serialises ticks of several processes; the value is arbitrary but fixed ("notify").
TICK_LOCK = 0x6E6F74696679

TRY_TICK_LOCK = "SELECT pg_try_advisory_xact_lock(%(key)s) AS locked"

SELECT_GROUPS = """
SELECT route, group_key, receiver, group_labels, alert_ids, flushes, last_flush_at
FROM notify_groups
"""

# One column per AlertInfo field (read with class_row); the alert's own labels win over the
# ones derived from its columns.
SELECT_ALERTS = """
SELECT a.id, a.fingerprint, a.rule, a.severity, a.state,
       jsonb_strip_nulls(jsonb_build_object(
           'commune', a.commune_code, 'site', a.site_id, 'device', a.device_id,
           'type', a.device_type, 'rule', a.rule, 'severity', a.severity))
         || coalesce(a.labels, '{}') AS labels,
       coalesce(a.annotations, '{}') AS annotations, coalesce(a.summary, '') AS summary,
       coalesce(a.summary_en, '') AS summary_en, a.started_at, a.fired_at, a.resolved_at,
       a.suppressed_by, cardinality(a.silenced_by) > 0 AS silenced, a.acknowledged_at,
       a.acknowledged_by, a.escalation_level, a.device_id, d.name AS device_name,
       a.device_type, a.site_id, s.name AS site_name, a.commune_code, c.name AS commune_name,
       a.notified_at
FROM alerts a
LEFT JOIN devices d ON d.id = a.device_id
LEFT JOIN sites s ON s.id = a.site_id
LEFT JOIN communes c ON c.code = a.commune_code
WHERE (a.state = 'firing' AND a.suppressed_by IS NULL AND a.silenced_by = '{}')
   OR a.id = ANY(%(ids)s)
   OR (a.state = 'resolved' AND a.notified_at IS NULL AND a.resolved_at >= %(brief_since)s
       AND a.fired_at IS NOT NULL AND a.suppressed_by IS NULL AND a.silenced_by = '{}')
"""

MARK_NOTIFIED = """
UPDATE alerts SET notified_at = %(now)s
WHERE id = ANY(%(ids)s) AND notified_at IS NULL
"""

UPSERT_GROUP = """
INSERT INTO notify_groups
    (route, group_key, receiver, group_labels, alert_ids, flushes, last_flush_at, updated_at)
VALUES (%(route)s, %(group_key)s, %(receiver)s, %(labels)s, %(alert_ids)s, %(flushes)s,
        %(last_flush_at)s, now())
ON CONFLICT (route, group_key) DO UPDATE SET
    alert_ids = EXCLUDED.alert_ids, flushes = EXCLUDED.flushes,
    last_flush_at = EXCLUDED.last_flush_at, updated_at = now()
"""

ENQUEUE = """
INSERT INTO notifications
    (dedup_key, receiver, channel, group_key, route, kind, alert_ids, payload, next_attempt_at,
     created_at)
VALUES (%(dedup_key)s, %(receiver)s, %(channel)s, %(group_key)s, %(route)s, %(kind)s,
        %(alert_ids)s, %(payload)s, %(now)s, %(now)s)
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id
"""

ESCALATE = """
UPDATE alerts SET escalation_level = %(level)s, updated_at = now()
WHERE id = ANY(%(ids)s) AND state = 'firing' AND acknowledged_at IS NULL
  AND escalation_level < %(level)s
RETURNING id
"""


def read(conn: psycopg.Connection, brief_since: datetime) -> TickState | None:
    """Take the tick lock and read every group and the alerts they may carry.

    None when another process holds the lock (it is ticking: this tick is skipped).
    """
    row = conn.execute(TRY_TICK_LOCK, {"key": TICK_LOCK}).fetchone()
    if not (row and row[0]):
        return None
    groups = load_groups(conn)
    carried: set[int] = set().union(*(g.alert_ids for g in groups.values()))
    return TickState(groups, load_alerts(conn, carried, brief_since))


def apply(conn: psycopg.Connection, plan: Plan, now: datetime) -> list[tuple[int, Note]]:
    """Write the plan: group states, outbox rows, ``notified_at``, escalations (in order).

    An escalation rises only where still due; it is dropped when no alert rises.
    Returns the outbox rows inserted (rows enqueued before by the same decision are not).
    """
    enqueued: list[tuple[int, Note]] = []
    for state in plan.groups:
        save_group(conn, state)
    for note in plan.notes:
        enqueued += _enqueue(conn, note, now)
    if plan.notified:
        conn.execute(MARK_NOTIFIED, {"ids": plan.notified, "now": now})
    for step in plan.escalations:
        ids = escalate(conn, step.note, now)
        if ids:
            note, state = step.narrowed(set(ids), now)
            save_group(conn, state)
            enqueued += _enqueue(conn, note, now)
    return enqueued


def load_groups(conn: psycopg.Connection) -> dict[tuple[str, str], GroupState]:
    """Every aggregation group's state."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(SELECT_GROUPS).fetchall()
    return {
        (r["route"], r["group_key"]): GroupState(
            route=r["route"],
            group_key=r["group_key"],
            receiver=r["receiver"],
            labels=dict(r["group_labels"]),
            alert_ids=frozenset(r["alert_ids"]),
            flushes=r["flushes"],
            last_flush_at=r["last_flush_at"],
        )
        for r in rows
    }


def load_alerts(
    conn: psycopg.Connection, carried: set[int], brief_since: datetime
) -> dict[int, AlertInfo]:
    """Notifiable alerts, the notified ones still carried by groups, and the ones that
    resolved since ``brief_since`` before any message carried them, with registry names."""
    params = {"ids": sorted(carried), "brief_since": brief_since}
    with conn.cursor(row_factory=class_row(AlertInfo)) as cur:
        rows = cur.execute(SELECT_ALERTS, params).fetchall()
    return {alert.id: alert for alert in rows}


def save_group(conn: psycopg.Connection, state: GroupState) -> None:
    """Write one group's state after a flush."""
    conn.execute(
        UPSERT_GROUP,
        {
            "route": state.route,
            "group_key": state.group_key,
            "receiver": state.receiver,
            "labels": Jsonb(state.labels),
            "alert_ids": sorted(state.alert_ids),
            "flushes": state.flushes,
            "last_flush_at": state.last_flush_at,
        },
    )


def _enqueue(conn: psycopg.Connection, note: Note, now: datetime) -> list[tuple[int, Note]]:
    """Insert the outbox row; nothing when an identical one was already enqueued."""
    message = note.message
    row = conn.execute(
        ENQUEUE,
        {
            "dedup_key": message.dedup_key(note.seq),
            "receiver": message.receiver,
            "channel": note.channel,
            "group_key": message.group_key,
            "route": message.route,
            "kind": message.kind,
            "alert_ids": message.alert_ids,
            "payload": Jsonb(message.payload(note.language, note.seq)),
            "now": now,
        },
    ).fetchone()
    return [(row[0], note)] if row else []


def escalate(conn: psycopg.Connection, note: Note, now: datetime) -> list[int]:
    """Raise ``escalation_level`` where still due and record it; the ids actually escalated."""
    message = note.message
    ids = [r[0] for r in conn.execute(ESCALATE, {"level": message.level, "ids": message.alert_ids})]
    if ids:
        record_history(
            conn,
            ids,
            now,
            "escalated",
            f"level {message.level} -> {message.receiver}",
            {"level": message.level, "receiver": message.receiver, "route": message.route},
        )
    return ids


def record_history(
    conn: psycopg.Connection,
    ids: list[int],
    now: datetime,
    action: str,
    note: str,
    data: dict[str, Any],
) -> None:
    """Append one ``alert_history`` entry per alert."""
    history.record_many(conn, ids, action, now=now, actor="notifier", note=note, data=data)
