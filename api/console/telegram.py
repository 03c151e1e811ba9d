"""Linking a Telegram account: a one-time code shown here, sent to the bot as ``/start CODE``."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from api import audit
from api.console.session import SessionDep, check_csrf
from api.console.views import page
from api.deps import ConnDep, SettingsDep
from ioc.linkcode import code_digest

router = APIRouter()

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: typed by hand on a phone
CODE_LENGTH = 8
DROP_CODES = "DELETE FROM ioc_auth.telegram_link_codes WHERE user_id = %(user_id)s"
INSERT_CODE = """
INSERT INTO ioc_auth.telegram_link_codes (code_hash, user_id, expires_at)
VALUES (%(hash)s, %(user_id)s, now() + make_interval(mins => %(minutes)s))
"""
LINK = """
SELECT telegram_user_id, telegram_username, linked_at FROM ioc_auth.telegram_links
WHERE user_id = %(user_id)s
"""


def _context(conn: ConnDep, user_id: int) -> dict[str, object]:
    row = conn.execute(LINK, {"user_id": user_id}).fetchone()
    return {"link": {"id": row[0], "username": row[1], "at": row[2]} if row else None}


@router.get("/telegram", response_class=HTMLResponse)
def telegram_page(
    request: Request, conn: ConnDep, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """Whether the user's Telegram account is linked, and a button for a new code."""
    ctx = _context(conn, session.user.user_id)
    return page(
        request,
        "telegram.html",
        {**ctx, "code": None, "minutes": settings.console.telegram_link_code_minutes, "bot": None},
        session,
    )


@router.post("/telegram/code", response_class=HTMLResponse)
def new_code(
    request: Request,
    conn: ConnDep,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    """Issue a one-time link code (earlier unused codes of the user stop working)."""
    check_csrf(session.csrf, csrf)
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    with conn.transaction():
        conn.execute(DROP_CODES, {"user_id": session.user.user_id})
        conn.execute(
            INSERT_CODE,
            {
                "hash": code_digest(code),
                "user_id": session.user.user_id,
                "minutes": settings.console.telegram_link_code_minutes,
            },
        )
        audit.record(
            conn,
            session.user.name,
            "link_code",
            "telegram",
            session.user.name,
            None,
            {"channel": "console"},
        )
    return page(
        request,
        "telegram.html",
        {
            **_context(conn, session.user.user_id),
            "code": code,
            "minutes": settings.console.telegram_link_code_minutes,
            "bot": settings.console.telegram_bot_username,
        },
        session,
    )
