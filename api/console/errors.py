"""Console errors as HTML pages (the API answers JSON); 303 stays a redirect to the login."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from api.console.i18n import TEXT, language
from api.console.session import LANG_COOKIE, PREFIX
from api.console.views import page


def is_console(request: Request) -> bool:
    """Whether the request is for a console page."""
    return request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/")


def html_error(
    request: Request, status: int, detail: object, headers: Mapping[str, str] | None = None
) -> Response:
    """The error page (or the redirect) for a console request."""
    if status == 303:
        return RedirectResponse((headers or {}).get("Location", PREFIX + "/login"), 303)
    text = TEXT[language(request.cookies.get(LANG_COOKIE))]
    if isinstance(detail, list):
        detail = "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg')}"
            if isinstance(d, dict)
            else str(d)
            for d in detail
        )
    headline = {403: text["forbidden"], 404: text["not_found"]}.get(status, "")
    return page(
        request,
        "error.html",
        {"status": status, "detail": f"{headline} {detail}".strip()},
        status=status,
    )
