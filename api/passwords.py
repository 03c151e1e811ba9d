"""Console passwords: Argon2id hashes (argon2-cffi), set by `ioc users passwd` or on create."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from psycopg.rows import class_row

MIN_LENGTH = 8
HASHER = PasswordHasher()
# Verified against when the user does not exist, so both paths cost one Argon2 hash.
DUMMY_HASH = HASHER.hash("not a password of anyone")

SET_PASSWORD = """
UPDATE ioc_auth.users SET password_hash = %(hash)s, password_set_at = now()
WHERE name = %(name)s AND revoked_at IS NULL
RETURNING id
"""
# A new password ends the user's console sessions (someone else may know the old one).
END_SESSIONS = """
UPDATE ioc_auth.sessions SET ended_at = now() WHERE user_id = %(id)s AND ended_at IS NULL
"""
SELECT_LOGIN = """
SELECT id AS user_id, name, role, communes, password_hash
FROM ioc_auth.users WHERE name = %(name)s AND revoked_at IS NULL
"""


@dataclass
class LoginRow:
    """A user who may log in, with their stored hash (None: no password set)."""

    user_id: int
    name: str
    role: str
    communes: list[str]
    password_hash: str | None


class PasswordError(ValueError):
    """A password that cannot be set (too short, unknown or revoked user)."""


def check_strength(password: str) -> None:
    """Refuse passwords that are too short."""
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"a password needs at least {MIN_LENGTH} characters")


def set_password(conn: psycopg.Connection, name: str, password: str) -> None:
    """Store the Argon2 hash of ``password`` for an active user; end their sessions."""
    check_strength(password)
    with conn.transaction():
        row = conn.execute(SET_PASSWORD, {"name": name, "hash": HASHER.hash(password)}).fetchone()
        if row is None:
            raise PasswordError(f"no active user named {name!r}")
        conn.execute(END_SESSIONS, {"id": row[0]})


def verify(conn: psycopg.Connection, name: str, password: str) -> LoginRow | None:
    """The user when ``password`` is theirs, else None (same cost either way)."""
    with conn.cursor(row_factory=class_row(LoginRow)) as cur:
        row = cur.execute(SELECT_LOGIN, {"name": name}).fetchone()
    stored = row.password_hash if row is not None and row.password_hash else DUMMY_HASH
    try:
        HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None or not row.password_hash:
        return None
    if HASHER.check_needs_rehash(stored):
        conn.execute(SET_PASSWORD, {"name": name, "hash": HASHER.hash(password)})
    return row
