"""`ioc migrate --roles`: role passwords are sent as SCRAM verifiers, never in clear."""

from __future__ import annotations

import uuid

import psycopg
from psycopg import sql

from ioc.migrate import set_role_passwords


def test_role_passwords_are_stored_as_scram_and_never_sent_in_clear(
    db: psycopg.Connection,
) -> None:
    role = f"ioc_sec_{uuid.uuid4().hex[:10]}"
    db.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    sent: list[str] = []
    try:
        original = db.execute

        def spy(query, params=None, **kw):
            sent.append(query.as_string(db) if hasattr(query, "as_string") else str(query))
            return original(query, params, **kw)

        db.execute = spy  # type: ignore[method-assign]
        assert set_role_passwords(db, {role: "plain-text-password"}) == [role]
        db.execute = original  # type: ignore[method-assign]
        stored, can_login = db.execute(
            "SELECT rolpassword, rolcanlogin FROM pg_authid WHERE rolname = %s", (role,)
        ).fetchone() or (None, None)
        assert can_login and stored and stored.startswith("SCRAM-SHA-256$4096:")
        assert sent and all("plain-text-password" not in q for q in sent)
    finally:
        db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
