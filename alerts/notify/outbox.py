"""The durable outbox: claim due rows under a lease, then record sent / retry / failed.

A row is claimed (``pending`` → ``sending``, ``attempts + 1``, lease) in its own committed
transaction before anything is sent, so two deliverers never send the same row. Within one
receiver and group, rows go out in enqueue order: a later row waits while an earlier one is
pending or sending (a resolution never overtakes its firing message).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ioc.ops import history

CLAIM = """
UPDATE notifications n
SET state = 'sending', attempts = n.attempts + 1, lease_until = %(lease_until)s,
    claimed_by = %(owner)s
WHERE n.id = (
    SELECT c.id FROM notifications c
    WHERE c.state = 'pending' AND c.next_attempt_at <= %(now)s
      AND NOT (c.receiver = ANY(%(skip)s))
      AND NOT EXISTS (
          SELECT 1 FROM notifications o
          WHERE o.receiver = c.receiver AND o.group_key = c.group_key AND o.id < c.id
            AND o.state IN ('pending', 'sending'))
    ORDER BY c.next_attempt_at, c.id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING n.id, n.dedup_key, n.receiver, n.channel, n.group_key, n.kind, n.alert_ids,
          n.payload, n.attempts, n.created_at
"""

MARK_SENT = """
UPDATE notifications
SET state = 'sent', sent_at = clock_timestamp(), lease_until = NULL, last_error = NULL
WHERE id = %(id)s AND state = 'sending' AND claimed_by = %(owner)s
"""

MARK_RETRY = """
UPDATE notifications
SET state = 'pending', next_attempt_at = %(next_attempt_at)s, last_error = %(error)s,
    lease_until = NULL
WHERE id = %(id)s AND state = 'sending' AND claimed_by = %(owner)s
"""

MARK_FAILED = """
UPDATE notifications
SET state = 'failed', last_error = %(error)s, lease_until = NULL
WHERE id = %(id)s AND state = 'sending' AND claimed_by = %(owner)s
"""

# A deliverer died mid-send (lease expired): resend where the receiver dedupes, else give up.
RECOVER = """
UPDATE notifications
SET state = CASE WHEN channel = ANY(%(resend)s) THEN 'pending' ELSE 'failed' END,
    last_error = CASE WHEN channel = ANY(%(resend)s)
        THEN 'interrupted mid-send (lease expired); resent, receiver dedupes by key'
        ELSE 'interrupted mid-send (lease expired); outcome unknown, not resent' END,
    next_attempt_at = %(now)s, lease_until = NULL
WHERE state = 'sending' AND lease_until < %(now)s
RETURNING id, state
"""

PURGE = """
DELETE FROM notifications
WHERE state IN ('sent', 'failed') AND created_at < %(before)s
"""


@dataclass(frozen=True)
class Claimed:
    """A row this process now owns until its lease ends."""

    id: int
    dedup_key: str
    receiver: str
    channel: str
    group_key: str
    kind: str
    alert_ids: list[int]
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


def claim(
    conn: psycopg.Connection, owner: str, now: datetime, lease: timedelta, skip: list[str]
) -> Claimed | None:
    """Claim the next due row (committed before returning), or None."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            CLAIM, {"owner": owner, "now": now, "lease_until": now + lease, "skip": skip}
        ).fetchone()
    return Claimed(**row) if row else None


def mark_sent(conn: psycopg.Connection, note: Claimed, owner: str) -> bool:
    """Record success and a ``notified`` history entry per alert."""
    with conn.transaction():
        done = conn.execute(MARK_SENT, {"id": note.id, "owner": owner}).rowcount == 1
        if done and note.alert_ids:
            history.record_many(
                conn,
                note.alert_ids,
                "notified",
                now=None,  # the database's clock when the send is recorded
                actor="notifier",
                note=f"{note.kind} -> {note.receiver}",
                data={"notification_id": note.id, "receiver": note.receiver, "kind": note.kind},
            )
    return done


def mark_retry(
    conn: psycopg.Connection, note: Claimed, owner: str, when: datetime, error: str
) -> None:
    """Back to pending, due again at ``when``."""
    with conn.transaction():
        conn.execute(
            MARK_RETRY, {"id": note.id, "owner": owner, "next_attempt_at": when, "error": error}
        )


def mark_failed(conn: psycopg.Connection, note: Claimed, owner: str, error: str) -> None:
    """Give up, keeping the reason."""
    with conn.transaction():
        conn.execute(MARK_FAILED, {"id": note.id, "owner": owner, "error": error})


def recover(conn: psycopg.Connection, now: datetime, resend: list[str]) -> list[tuple[int, str]]:
    """Release rows whose sender's lease expired; returns (id, new state)."""
    with conn.transaction():
        return [(r[0], r[1]) for r in conn.execute(RECOVER, {"now": now, "resend": resend})]


def purge(conn: psycopg.Connection, before: datetime) -> int:
    """Delete finished rows created before ``before``; return how many."""
    with conn.transaction():
        return conn.execute(PURGE, {"before": before}).rowcount


def backoff(attempts: int, base: float, cap: float, retry_after: float | None) -> float:
    """Seconds to wait: exponential with jitter, or the receiver's ``Retry-After``."""
    if retry_after is not None:
        return min(max(retry_after, base), cap * 4)
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return delay * random.uniform(0.5, 1.0)
