"""API users and bearer tokens: creation, lookup by SHA-256 digest, expiry, revocation, rotation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from ioc.errors import IocError
from ioc.oneline import check_one_line

# Roles and scopes are shared with the console and Telegram; re-exported for the API.
from ioc.ops.access import RANK as RANK
from ioc.ops.access import ROLES as ROLES
from ioc.ops.access import Principal as Principal

TOKEN_PREFIX = "ioc_"

INSERT_USER = """
INSERT INTO ioc_auth.users (name, role, communes) VALUES (%(name)s, %(role)s, %(communes)s)
RETURNING id
"""
INSERT_TOKEN = """
INSERT INTO ioc_auth.tokens (user_id, token_hash, prefix, expires_at)
VALUES (%(user_id)s, %(hash)s, %(prefix)s,
        CASE WHEN %(days)s::int IS NULL THEN NULL ELSE now() + make_interval(days => %(days)s) END)
RETURNING expires_at
"""
SELECT_TOKEN = """
SELECT u.id AS user_id, u.name, u.role, u.communes, t.id AS token_id, t.expires_at,
       (t.expires_at IS NOT NULL AND t.expires_at <= now()) AS expired
FROM ioc_auth.tokens t JOIN ioc_auth.users u ON u.id = t.user_id
WHERE t.token_hash = %(hash)s AND t.revoked_at IS NULL AND u.revoked_at IS NULL
"""
TOUCH_TOKEN = """
UPDATE ioc_auth.tokens SET last_used_at = now()
WHERE id = %(id)s AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
"""
SELECT_USERS = """
SELECT u.name, u.role, u.communes, u.created_at, u.revoked_at,
       count(t.id) FILTER (WHERE t.revoked_at IS NULL
                           AND (t.expires_at IS NULL OR t.expires_at > now())) AS active_tokens,
       max(t.expires_at) FILTER (WHERE t.revoked_at IS NULL) AS expires_at,
       max(t.last_used_at) AS last_used_at
FROM ioc_auth.users u LEFT JOIN ioc_auth.tokens t ON t.user_id = u.id
GROUP BY u.id ORDER BY u.name
"""
SELECT_USER = "SELECT id, revoked_at FROM ioc_auth.users WHERE name = %(name)s"
REVOKE_USER = """
UPDATE ioc_auth.users SET revoked_at = coalesce(revoked_at, now()) WHERE id = %(id)s
"""
REVOKE_TOKENS = """
UPDATE ioc_auth.tokens SET revoked_at = now() WHERE user_id = %(id)s AND revoked_at IS NULL
"""


@dataclass
class TokenRow:
    """A token found by its digest."""

    user_id: int
    name: str
    role: str
    communes: list[str]
    token_id: int
    expires_at: datetime | None
    expired: bool


@dataclass
class UserRow:
    """A user as listed by ``ioc users list`` and ``GET /api/v1/users``."""

    name: str
    role: str
    communes: list[str]
    created_at: datetime
    revoked_at: datetime | None
    active_tokens: int
    expires_at: datetime | None
    last_used_at: datetime | None


class UserError(IocError, ValueError):
    """A user operation is impossible (duplicate name, unknown or revoked user)."""


def digest(token: str) -> bytes:
    """SHA-256 of a token, the only form stored."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def new_token() -> str:
    """A fresh random bearer token (32 random bytes, URL-safe)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _issue(cur: psycopg.Cursor, user_id: int, days: int | None) -> tuple[str, datetime | None]:
    token = new_token()
    cur.execute(
        INSERT_TOKEN,
        {"user_id": user_id, "hash": digest(token), "prefix": token[:10], "days": days},
    )
    row = cur.fetchone()
    return token, row[0] if row else None


def create_user(
    conn: psycopg.Connection, name: str, role: str, communes: list[str], days: int | None
) -> tuple[str, datetime | None]:
    """Create a user with one token; return the token (shown once) and its expiry."""
    if role not in RANK:
        raise UserError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    try:  # user names appear in messages ("acknowledged by ..."): one line, no controls
        check_one_line(name)
    except ValueError as exc:
        raise UserError(f"user name {name!r} {exc}") from None
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(SELECT_USER, {"name": name})
        if cur.fetchone():
            raise UserError(f"user {name!r} already exists")
        cur.execute(INSERT_USER, {"name": name, "role": role, "communes": sorted(set(communes))})
        row = cur.fetchone()
        assert row is not None
        return _issue(cur, row[0], days)


def _active_user(cur: psycopg.Cursor, name: str) -> int:
    cur.execute(SELECT_USER, {"name": name})
    row = cur.fetchone()
    if row is None:
        raise UserError(f"no user named {name!r}")
    if row[1] is not None:
        raise UserError(f"user {name!r} is revoked")
    return int(row[0])


def revoke_user(conn: psycopg.Connection, name: str) -> None:
    """Revoke a user and every token of theirs (effective on the next request)."""
    with conn.transaction(), conn.cursor() as cur:
        user_id = _active_user(cur, name)
        cur.execute(REVOKE_TOKENS, {"id": user_id})
        cur.execute(REVOKE_USER, {"id": user_id})


def rotate_token(
    conn: psycopg.Connection, name: str, days: int | None
) -> tuple[str, datetime | None]:
    """Revoke a user's tokens and issue a new one; return it (shown once) and its expiry."""
    with conn.transaction(), conn.cursor() as cur:
        user_id = _active_user(cur, name)
        cur.execute(REVOKE_TOKENS, {"id": user_id})
        return _issue(cur, user_id, days)


def list_users(conn: psycopg.Connection) -> list[UserRow]:
    """Every user with token counts, newest expiry and last use."""
    with conn.cursor(row_factory=class_row(UserRow)) as cur:
        return cur.execute(SELECT_USERS).fetchall()


def lookup(conn: psycopg.Connection, token: str) -> TokenRow | None:
    """The live token row for a presented token, or None (unknown or revoked)."""
    with conn.cursor(row_factory=class_row(TokenRow)) as cur:
        row = cur.execute(SELECT_TOKEN, {"hash": digest(token)}).fetchone()
    if row is not None and not row.expired:
        conn.execute(TOUCH_TOKEN, {"id": row.token_id})
    return row


def expiry_days(days: int | None, default: int) -> int | None:
    """Token lifetime: the given days, the default when None, never when 0."""
    if days is None:
        return default
    return None if days == 0 else days
