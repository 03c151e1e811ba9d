"""The silences page: active and upcoming silences the user sees; expire one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.console import actions
from api.console.i18n import TEXT, language
from api.console.session import LANG_COOKIE, PREFIX, SessionDep, check_csrf
from api.console.views import page
from api.deps import ConnDep, Page, SettingsDep
from api.routes.silences import list_silences

router = APIRouter()
# Names of what silences match, so people read "Thiết bị: Cáp quang UBND", not an id.
NAMES = """
SELECT id, name FROM devices WHERE id = ANY(%(values)s)
UNION ALL SELECT id, name FROM sites WHERE id = ANY(%(values)s)
UNION ALL SELECT code, name FROM communes WHERE code = ANY(%(values)s)
"""


@router.get("/silences", response_class=HTMLResponse)
def silences_page(
    request: Request,
    conn: ConnDep,
    session: SessionDep,
    settings: SettingsDep,
    done: str | None = None,
) -> HTMLResponse:
    """Active, then upcoming silences."""
    size = Page(settings, settings.api.page_max, 0)
    active = list_silences(conn, session.user, size, "active").data
    upcoming = list_silences(conn, session.user, size, "pending").data
    text = TEXT[language(request.cookies.get(LANG_COOKIE))]
    values = sorted({str(m.get("value")) for s in active + upcoming for m in s.matchers})
    names: dict[str, str] = {}
    if values:
        names = dict(conn.execute(NAMES, {"values": values}).fetchall())
    return page(
        request,
        "silences.html",
        {
            "names": names,
            "active": active,
            "upcoming": upcoming,
            "can_act": session.user.can(actions.ACTING_ROLE),
            "message": text["done_expire"] if done == "expire" else None,
        },
        session,
    )


@router.post("/silences/{silence_id}/expire")
def expire(
    conn: ConnDep,
    session: SessionDep,
    silence_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    csrf: Annotated[str | None, Form()] = None,
) -> RedirectResponse:
    """Expire a silence now."""
    check_csrf(session.csrf, csrf)
    actions.expire(conn, session.user, silence_id)
    return RedirectResponse(f"{PREFIX}/silences?done=expire", status_code=303)
