"""The audit log: who did what to which object, when, and through which channel.

The channel (``api``, ``console``, ``telegram``, ``cli``) is taken from the context: the
console and the Telegram bot wrap their calls in ``with via("console"):`` so the one code path
that acts (and audits) records where the action came from without a parameter threaded through.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

INSERT_AUDIT = """
INSERT INTO audit_log (actor, action, object_type, object_id, commune_code, details, channel)
VALUES (%(actor)s, %(action)s, %(object_type)s, %(object_id)s, %(commune)s, %(details)s,
        %(channel)s)
"""

CHANNEL: ContextVar[str] = ContextVar("ioc_audit_channel", default="api")


@contextmanager
def via(channel: str) -> Iterator[None]:
    """Audit entries written inside this block name ``channel``."""
    token = CHANNEL.set(channel)
    try:
        yield
    finally:
        CHANNEL.reset(token)


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
            "channel": CHANNEL.get(),
        },
    )
