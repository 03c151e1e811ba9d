"""The 48-hour window: who a receiver's user is on Zalo, when they last wrote, and what
becomes of a message outside the window (template notification or fallback, recorded)."""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from ioc.ops import history

LINKED = """
SELECT l.zalo_user_id FROM ioc_auth.zalo_links l JOIN ioc_auth.users u ON u.id = l.user_id
WHERE u.name = %(name)s AND u.revoked_at IS NULL
"""
LAST = "SELECT last_interaction_at FROM ioc_auth.zalo_contacts WHERE zalo_user_id = %(uid)s"
TOUCH = """
INSERT INTO ioc_auth.zalo_contacts AS c (zalo_user_id, last_interaction_at, last_event)
VALUES (%(uid)s, %(at)s, %(event)s)
ON CONFLICT (zalo_user_id) DO UPDATE SET
    last_interaction_at = greatest(c.last_interaction_at, EXCLUDED.last_interaction_at),
    last_event = EXCLUDED.last_event
"""
# The same message for the fallback receiver, once (the dedup key says where it came from).
REROUTE = """
INSERT INTO notifications (dedup_key, receiver, channel, group_key, kind, alert_ids, payload)
SELECT n.dedup_key || ':via:' || %(receiver)s, %(receiver)s, %(channel)s, n.group_key, n.kind,
       n.alert_ids, n.payload || %(extra)s
FROM notifications n WHERE n.id = %(id)s
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id
"""


def recipient(conn: psycopg.Connection, user: str | None, user_id: str | None) -> str | None:
    """The Zalo user id to send to: the given one, or the console user's linked account."""
    if user_id is not None:
        return user_id
    row = conn.execute(LINKED, {"name": user}).fetchone()
    return str(row[0]) if row else None


def last_interaction(conn: psycopg.Connection, zalo_user_id: str) -> datetime | None:
    """When this user last wrote to (or followed) the OA, if ever."""
    row = conn.execute(LAST, {"uid": zalo_user_id}).fetchone()
    return row[0] if row else None


def touch(conn: psycopg.Connection, zalo_user_id: str, at: datetime, event: str) -> None:
    """The user interacted with the OA at ``at`` (never moves the time back)."""
    conn.execute(TOUCH, {"uid": zalo_user_id, "at": at, "event": event[:64]})


def reroute(
    conn: psycopg.Connection,
    notification_id: int,
    receiver: str,
    channel: str,
    reason: str,
    alert_ids: list[int],
    now: datetime,
) -> int | None:
    """Queue the notification for ``receiver`` and say why in each alert's history."""
    extra = {"rerouted_from": notification_id, "reroute_reason": reason}
    with conn.transaction():
        row = conn.execute(
            REROUTE,
            {
                "id": notification_id,
                "receiver": receiver,
                "channel": channel,
                "extra": Jsonb(extra),
            },
        ).fetchone()
        new_id = int(row[0]) if row else None
        record(conn, alert_ids, now, "notify_rerouted", f"zalo -> {receiver}: {reason}",
               {"notification_id": notification_id, "fallback_id": new_id})  # fmt: skip
    return new_id


def record(
    conn: psycopg.Connection,
    alert_ids: list[int],
    now: datetime,
    action: str,
    note: str,
    data: dict[str, object],
) -> None:
    """A history line on each alert about how its message went out."""
    if alert_ids:
        history.record_many(
            conn, alert_ids, action, now=now, actor="notifier", note=note, data=data,
            only_existing=True,
        )  # fmt: skip
