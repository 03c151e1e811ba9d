"""What the tests of the chat apps (Telegram, Zalo) share: the seeded world and link codes."""

from __future__ import annotations

import psycopg

from api import security
from ioc.linkcode import code_digest
from tests.api.conftest import USERS, World, seed

INSERT_CODE = """
INSERT INTO ioc_auth.telegram_link_codes (code_hash, user_id, expires_at)
SELECT %(hash)s, id, now() + interval '15 minutes' FROM ioc_auth.users WHERE name = %(name)s
"""


def seed_world(db: psycopg.Connection) -> World:
    """Two communes with alerts (tests/api/conftest.py) and the API's test users."""
    found = seed(db)
    for name, (role, communes) in USERS.items():
        security.create_user(db, name, role, communes, 30)
    return found


def issue_link_code(db: psycopg.Connection, name: str, code: str) -> str:
    """Store a one-time link code for user ``name``, as the console does; return the code."""
    db.execute(INSERT_CODE, {"hash": code_digest(code), "name": name})
    return code
