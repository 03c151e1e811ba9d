"""Console sessions: random cookie token (stored as SHA-256), per-session CSRF token, login."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

import psycopg
from fastapi import Depends, HTTPException, Request, Response
from psycopg.rows import class_row

from api.deps import ConnDep
from api.settings import ApiSetup
from ioc.ops.access import Principal

COOKIE = "ioc_session"
LOGIN_CSRF_COOKIE = "ioc_login_csrf"
LANG_COOKIE = "ioc_lang"
PREFIX = "/console"

INSERT_SESSION = """
INSERT INTO ioc_auth.sessions (token_hash, user_id, csrf, expires_at)
VALUES (%(hash)s, %(user_id)s, %(csrf)s, now() + make_interval(secs => %(seconds)s))
"""
SELECT_SESSION = """
SELECT s.id AS session_id, s.csrf, u.id AS user_id, u.name, u.role, u.communes
FROM ioc_auth.sessions s JOIN ioc_auth.users u ON u.id = s.user_id
WHERE s.token_hash = %(hash)s AND s.ended_at IS NULL AND s.expires_at > now()
  AND u.revoked_at IS NULL
"""
TOUCH_SESSION = """
UPDATE ioc_auth.sessions SET last_seen_at = now()
WHERE id = %(id)s AND last_seen_at < now() - interval '1 minute'
"""
END_SESSION = "UPDATE ioc_auth.sessions SET ended_at = now() WHERE token_hash = %(hash)s"
PURGE_SESSIONS = "DELETE FROM ioc_auth.sessions WHERE expires_at < now() - interval '7 days'"


@dataclass
class SessionRow:
    """A live session and its user."""

    session_id: int
    csrf: str
    user_id: int
    name: str
    role: str
    communes: list[str]


@dataclass(frozen=True)
class Session:
    """The logged-in console user: the API's principal plus the session's CSRF token."""

    user: Principal
    csrf: str


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def start(conn: psycopg.Connection, response: Response, user_id: int, settings: ApiSetup) -> None:
    """Create a session for ``user_id`` and set its cookie on ``response``."""
    token = secrets.token_urlsafe(32)
    seconds = settings.console.session_hours * 3600
    conn.execute(PURGE_SESSIONS)
    conn.execute(
        INSERT_SESSION,
        {
            "hash": _digest(token),
            "user_id": user_id,
            "csrf": secrets.token_urlsafe(24),
            "seconds": seconds,
        },
    )
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(seconds),
        path="/",
        secure=settings.console.cookie_secure,
        httponly=True,
        samesite="lax",
    )


def end(conn: psycopg.Connection, request: Request, response: Response) -> None:
    """End the request's session (if any) and clear the cookie."""
    token = request.cookies.get(COOKIE)
    if token:
        conn.execute(END_SESSION, {"hash": _digest(token)})
    response.delete_cookie(COOKIE, path="/")


def lookup(conn: psycopg.Connection, request: Request) -> Session | None:
    """The live session named by the request's cookie, or None."""
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 200:
        return None
    with conn.cursor(row_factory=class_row(SessionRow)) as cur:
        row = cur.execute(SELECT_SESSION, {"hash": _digest(token)}).fetchone()
    if row is None:
        return None
    conn.execute(TOUCH_SESSION, {"id": row.session_id})
    user = Principal(row.user_id, row.name, row.role, tuple(row.communes))
    request.state.user = user.name
    return Session(user=user, csrf=row.csrf)


def login_redirect(request: Request) -> HTTPException:
    """303 to the login page, coming back to this page afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return HTTPException(
        303, "login required", headers={"Location": f"{PREFIX}/login?next={quote(target)}"}
    )


def current_session(request: Request, conn: ConnDep) -> Session:
    """The console user, or a redirect to the login page."""
    found = lookup(conn, request)
    if found is None:
        raise login_redirect(request)
    return found


SessionDep = Annotated[Session, Depends(current_session)]


def check_csrf(expected: str, given: str | None) -> None:
    """403 unless the form carried the session's CSRF token."""
    if not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise HTTPException(403, "CSRF token missing or wrong; reload the page and try again")


def safe_next(target: str | None) -> str:
    """A local path to go to after login/language switch (never another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return f"{PREFIX}/"
