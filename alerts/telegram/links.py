"""Telegram accounts linked to product users (one-time ``/start CODE``), and who presses."""

from __future__ import annotations

import hashlib

import psycopg

from ioc.ops.access import Principal

CONSUME_CODE = """
UPDATE ioc_auth.telegram_link_codes SET used_at = now()
WHERE code_hash = %(hash)s AND used_at IS NULL AND expires_at > now()
RETURNING user_id
"""
UNLINK = """
DELETE FROM ioc_auth.telegram_links
WHERE user_id = %(user_id)s OR telegram_user_id = %(telegram_id)s
"""
LINK = """
INSERT INTO ioc_auth.telegram_links (telegram_user_id, user_id, telegram_username)
VALUES (%(telegram_id)s, %(user_id)s, %(username)s)
"""
PRINCIPAL = """
SELECT u.id, u.name, u.role, u.communes
FROM ioc_auth.telegram_links l JOIN ioc_auth.users u ON u.id = l.user_id
WHERE l.telegram_user_id = %(telegram_id)s AND u.revoked_at IS NULL
"""


def code_digest(code: str) -> bytes:
    """What is stored of a link code (the console issues codes with the same digest)."""
    return hashlib.sha256(code.strip().upper().encode("utf-8")).digest()


def link(
    conn: psycopg.Connection, code: str, telegram_id: int, username: str | None
) -> Principal | None:
    """Link the Telegram account to the code's user; None when the code is wrong or used."""
    with conn.transaction():
        row = conn.execute(CONSUME_CODE, {"hash": code_digest(code)}).fetchone()
        if row is None:
            return None
        params = {"user_id": row[0], "telegram_id": telegram_id, "username": username}
        conn.execute(UNLINK, params)
        conn.execute(LINK, params)
    return principal(conn, telegram_id)


def principal(conn: psycopg.Connection, telegram_id: int) -> Principal | None:
    """The active product user linked to this Telegram account, or None."""
    row = conn.execute(PRINCIPAL, {"telegram_id": telegram_id}).fetchone()
    if row is None:
        return None
    return Principal(row[0], row[1], row[2], tuple(row[3]))
