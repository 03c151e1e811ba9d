"""The alert page (timeline, who acknowledged / is assigned) and its three actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.console import actions
from api.console.i18n import TEXT, language
from api.console.session import LANG_COOKIE, PREFIX, SessionDep, check_csrf
from api.console.views import page
from api.deps import ConnDep, SettingsDep
from api.routes.alerts import AlertId, get_alert
from ioc.bounds import check_instant
from ioc.ops import actions as ioc_actions

router = APIRouter()

NAMES = """
SELECT d.name AS device, s.name AS site, c.name AS commune, d.type
FROM (SELECT 1) one
LEFT JOIN devices d ON d.id = %(device)s
LEFT JOIN sites s ON s.id = %(site)s
LEFT JOIN communes c ON c.code = %(commune)s
"""
PRESET_HOURS = (1, 2, 4, 8, 24)
DONE = ("ack", "assign", "silence")
Csrf = Annotated[str | None, Form()]


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    request: Request,
    conn: ConnDep,
    session: SessionDep,
    alert_id: AlertId,
    done: str | None = None,
) -> HTMLResponse:
    """One alert with its timeline and the forms to act on it."""
    alert = get_alert(conn, session.user, alert_id)
    row = conn.execute(
        NAMES, {"device": alert.device_id, "site": alert.site_id, "commune": alert.commune_code}
    ).fetchone()
    names = {"device": row[0], "site": row[1], "commune": row[2], "type": row[3]} if row else {}
    people = ioc_actions.assignable(conn, alert.commune_code)  # the choices of "assign to"
    text = TEXT[language(request.cookies.get(LANG_COOKIE))]
    return page(
        request,
        "alert.html",
        {
            "a": alert,
            "names": names,
            "people": people,
            "presets": PRESET_HOURS,
            "can_act": session.user.can(actions.ACTING_ROLE),
            "message": text.get(f"done_{done}") if done in DONE else None,
            "comment": f"#{alert.id}: {alert.summary}"[:200],
        },
        session,
    )


def _back(alert_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/alerts/{alert_id}?done={done}", status_code=303)


@router.post("/alerts/{alert_id}/ack")
def ack(
    conn: ConnDep,
    session: SessionDep,
    alert_id: AlertId,
    csrf: Csrf = None,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> RedirectResponse:
    """Acknowledge with a note."""
    check_csrf(session.csrf, csrf)
    actions.acknowledge(conn, session.user, alert_id, note)
    return _back(alert_id, "ack")


@router.post("/alerts/{alert_id}/assign")
def assign(
    request: Request,
    conn: ConnDep,
    session: SessionDep,
    alert_id: AlertId,
    csrf: Csrf = None,
    assignee: Annotated[str, Form(max_length=100)] = "",
    me: Annotated[str, Form(max_length=10)] = "",
) -> RedirectResponse:
    """Assign to me (button) or to someone (field)."""
    check_csrf(session.csrf, csrf)
    who = session.user.name if me else assignee.strip()
    if not who:
        raise HTTPException(422, "assignee: name someone or press 'assign to me'")
    alert = get_alert(conn, session.user, alert_id)
    try:
        ioc_actions.check_assignee(conn, who, alert.commune_code)
    except ioc_actions.ActionRefused as exc:
        text = TEXT[language(request.cookies.get(LANG_COOKIE))]
        raise HTTPException(422, text["not_assignable"].format(who=who, why=exc.message)) from None
    actions.assign(conn, session.user, alert_id, who)
    return _back(alert_id, "assign")


@router.post("/alerts/{alert_id}/silence")
def silence(
    conn: ConnDep,
    session: SessionDep,
    settings: SettingsDep,
    alert_id: AlertId,
    csrf: Csrf = None,
    scope: Annotated[str, Form(pattern="^(device|site|commune)$")] = "device",
    hours: Annotated[int, Form(ge=0, le=24 * 90)] = 2,
    until: Annotated[str, Form(max_length=40)] = "",
    comment: Annotated[str, Form(max_length=1000)] = "",
) -> RedirectResponse:
    """Silence the alert's device, site or commune for a preset or until a chosen time."""
    check_csrf(session.csrf, csrf)
    alert = get_alert(conn, session.user, alert_id)
    value = {"device": alert.device_id, "site": alert.site_id, "commune": alert.commune_code}[scope]
    if not value:
        raise HTTPException(422, f"scope: this alert has no {scope}")
    if until.strip():
        try:
            local = datetime.fromisoformat(until.strip())
        except ValueError:
            raise HTTPException(422, f"until: {until!r} is not a date and time") from None
        local = local if local.tzinfo else local.replace(tzinfo=ZoneInfo(settings.api.timezone))
        try:
            ends_at = check_instant(local)
        except ValueError as exc:
            raise HTTPException(422, f"until: {exc}") from None
        if ends_at <= datetime.now(UTC):
            raise HTTPException(422, f"until: {until.strip()} is not in the future")
    elif hours > 0:
        ends_at = datetime.now(UTC) + timedelta(hours=hours)
    else:
        raise HTTPException(422, "hours: choose a duration or an end time")
    actions.silence(conn, session.user, scope, value, ends_at, comment.strip() or f"#{alert.id}")
    return _back(alert_id, "silence")
