"""Edge collectors' API tokens: each may read only its own inventory, and nothing else.

Issued with ``ioc devices credentials issue --collector ID`` (shown once; only the SHA-256
digest is stored, in ``ioc_auth.collector_tokens``, apart from user tokens).
"""

from __future__ import annotations

import hashlib
import secrets

import psycopg

PREFIX = "iocc_"
COLLECTOR_TYPE_SQL = "SELECT type, decommissioned_at IS NOT NULL FROM devices WHERE id = %(id)s"
ACTIVE_SQL = """
SELECT count(*) FROM ioc_auth.collector_tokens
WHERE collector_id = %(id)s AND revoked_at IS NULL
"""
REVOKE_SQL = """
UPDATE ioc_auth.collector_tokens SET revoked_at = now()
WHERE collector_id = %(id)s AND revoked_at IS NULL
"""
INSERT_SQL = """
INSERT INTO ioc_auth.collector_tokens (collector_id, token_hash, prefix)
VALUES (%(id)s, %(hash)s, %(prefix)s)
"""
LOOKUP_SQL = """
UPDATE ioc_auth.collector_tokens t SET last_used_at = now()
FROM devices d
WHERE t.token_hash = %(hash)s AND t.revoked_at IS NULL AND d.id = t.collector_id
  AND d.decommissioned_at IS NULL
RETURNING t.collector_id
"""


class CollectorTokenError(ValueError):
    """The named device is not an in-service collector."""


def digest(token: str) -> bytes:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).digest()


def check_collector(conn: psycopg.Connection, collector_id: str) -> None:
    """Raise unless ``collector_id`` is an in-service device of type ``collector``."""
    row = conn.execute(COLLECTOR_TYPE_SQL, {"id": collector_id}).fetchone()
    if row is None:
        raise CollectorTokenError(f"unknown device {collector_id!r}")
    if row[0] != "collector":
        raise CollectorTokenError(f"device {collector_id!r} is a {row[0]}, not a collector")
    if row[1]:
        raise CollectorTokenError(f"collector {collector_id!r} is decommissioned")


def issue(conn: psycopg.Connection, collector_id: str, *, rotate: bool = False) -> str | None:
    """A new token for the collector (None when it has one and ``rotate`` is not asked)."""
    with conn.transaction():
        check_collector(conn, collector_id)
        (active,) = conn.execute(ACTIVE_SQL, {"id": collector_id}).fetchone() or (0,)
        if active and not rotate:
            return None
        conn.execute(REVOKE_SQL, {"id": collector_id})
        token = PREFIX + secrets.token_urlsafe(32)
        conn.execute(INSERT_SQL, {"id": collector_id, "hash": digest(token), "prefix": token[:10]})
    return token


def lookup(conn: psycopg.Connection, token: str) -> str | None:
    """The collector a live token belongs to, or None."""
    if not token.startswith(PREFIX):
        return None
    row = conn.execute(LOOKUP_SQL, {"hash": digest(token)}).fetchone()
    return str(row[0]) if row else None
