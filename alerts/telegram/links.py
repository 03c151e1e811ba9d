"""Telegram accounts linked to product users (one-time ``/start CODE``), and who presses.

The code and the user behind it are ``alerts.chatops.links``'s; the link table is Telegram's.
"""

from __future__ import annotations

import psycopg

from alerts.chatops import links
from ioc.ops.access import Principal

UNLINK = """
DELETE FROM ioc_auth.telegram_links
WHERE user_id = %(user_id)s OR telegram_user_id = %(telegram_id)s
"""
LINK = """
INSERT INTO ioc_auth.telegram_links (telegram_user_id, user_id, telegram_username)
VALUES (%(telegram_id)s, %(user_id)s, %(username)s)
"""
LINKED_USER = "SELECT user_id FROM ioc_auth.telegram_links WHERE telegram_user_id = %(telegram_id)s"


def link(
    conn: psycopg.Connection, code: str, telegram_id: int, username: str | None
) -> Principal | None:
    """Link the Telegram account to the code's user; None when the code is wrong or used."""
    with conn.transaction():
        user_id = links.consume(conn, code)
        user = links.user(conn, user_id) if user_id is not None else None
        if user is None:
            return None
        params = {"user_id": user.user_id, "telegram_id": telegram_id, "username": username}
        conn.execute(UNLINK, params)
        conn.execute(LINK, params)
    return user


def principal(conn: psycopg.Connection, telegram_id: int) -> Principal | None:
    """The active product user linked to this Telegram account, or None."""
    row = conn.execute(LINKED_USER, {"telegram_id": telegram_id}).fetchone()
    return links.user(conn, int(row[0])) if row else None
