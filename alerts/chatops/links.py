"""One-time link codes (issued by the console) and the product user behind a chat account.

The console stores only a code's SHA-256 in ``ioc_auth.telegram_link_codes`` (one table for
every chat channel: the code proves the console user, whichever app it is typed into).
"""

from __future__ import annotations

import psycopg

from ioc.linkcode import code_digest
from ioc.ops.access import Principal

CONSUME_CODE = """
UPDATE ioc_auth.telegram_link_codes SET used_at = now()
WHERE code_hash = %(hash)s AND used_at IS NULL AND expires_at > now()
RETURNING user_id
"""
USER = """
SELECT id, name, role, communes FROM ioc_auth.users
WHERE id = %(user_id)s AND revoked_at IS NULL
"""
MAX_CODE = 32


def consume(conn: psycopg.Connection, code: str) -> int | None:
    """The user id of an unused, unexpired code, which is used up; None otherwise."""
    if not code or len(code) > MAX_CODE:
        return None
    row = conn.execute(CONSUME_CODE, {"hash": code_digest(code)}).fetchone()
    return int(row[0]) if row else None


def user(conn: psycopg.Connection, user_id: int) -> Principal | None:
    """The active product user with this id, or None."""
    row = conn.execute(USER, {"user_id": user_id}).fetchone()
    return Principal(row[0], row[1], row[2], tuple(row[3])) if row else None
