"""Login (throttled, see api/ratelimit.py; audited), logout and the language switch."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import audit
from api.console import session as sessions
from api.console.i18n import TEXT, language
from api.console.session import LANG_COOKIE, LOGIN_CSRF_COOKIE, PREFIX, SessionDep
from api.console.views import page
from api.deps import ConnDep, SettingsDep
from api.passwords import verify
from api.settings import ApiSetup

router = APIRouter()
VIA = {"channel": "console"}


def _login_page(
    request: Request, next_: str, username: str = "", error: str | None = None, status: int = 200
) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    settings: ApiSetup = request.app.state.settings
    if error is None and settings.console.cookie_secure and request.url.scheme != "https":
        # Behind a TLS proxy the scheme is https only with forwarded headers: a hint, no block.
        error = TEXT[language(request.cookies.get(LANG_COOKIE))]["needs_https"]
    response = page(
        request,
        "login.html",
        {"login_csrf": token, "next": next_, "username": username, "error": error},
        status=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path=f"{PREFIX}/login",
        secure=settings.console.cookie_secure,
        httponly=True,
        samesite="strict",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, conn: ConnDep, next: str | None = None) -> Response:
    """The login form (straight on to the page when already logged in)."""
    if sessions.lookup(conn, request) is not None:
        return RedirectResponse(sessions.safe_next(next), status_code=303)
    return _login_page(request, sessions.safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str | None, Form()] = None,
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the password; start a session and go on, or show the form again."""
    sessions.check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE) or "", csrf)
    text = TEXT[language(request.cookies.get(LANG_COOKIE))]
    target = sessions.safe_next(next)
    throttle = request.app.state.login_throttle
    address = request.client.host if request.client else "?"
    wait = throttle.wait(conn, username, address)
    if wait:
        audit.record(conn, username or "?", "login_throttled", "session", address, None, VIA)
        return _login_page(request, target, username, text["too_many"].format(s=wait), status=429)
    user = verify(conn, username, password)
    if user is None:
        throttle.failed(username, address)
        audit.record(conn, username or "?", "login_failed", "session", address, None, VIA)
        return _login_page(request, target, username, text["bad_login"], status=401)
    throttle.succeeded(conn, user.user_id, user.name, address)
    audit.record(conn, user.name, "login", "session", address, None, VIA)
    response = RedirectResponse(target, status_code=303)
    sessions.start(conn, response, user.user_id, settings)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=f"{PREFIX}/login")
    return response


@router.post("/logout")
def logout(
    request: Request,
    conn: ConnDep,
    session: SessionDep,
    csrf: Annotated[str | None, Form()] = None,
) -> RedirectResponse:
    """End the session."""
    sessions.check_csrf(session.csrf, csrf)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    audit.record(conn, session.user.name, "logout", "session", "", None, VIA)
    sessions.end(conn, request, response)
    return response


@router.get("/lang/{code}")
def switch_language(request: Request, code: str, next: str | None = None) -> RedirectResponse:
    """Remember the chosen language in a cookie and go back."""
    response = RedirectResponse(sessions.safe_next(next), status_code=303)
    response.set_cookie(
        LANG_COOKIE, language(code), max_age=365 * 86400, path="/", samesite="lax", httponly=True
    )
    return response
