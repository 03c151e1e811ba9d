"""The collectors page: each edge collector's version, last contact and buffered readings."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.console.session import SessionDep
from api.console.views import page
from api.deps import ConnDep
from api.routes.collectors import fleet

router = APIRouter()


@router.get("/collectors", response_class=HTMLResponse)
def collectors_page(request: Request, conn: ConnDep, session: SessionDep) -> HTMLResponse:
    """The fleet the user may see (a rolling update shows here as versions change)."""
    return page(
        request, "collectors.html", {"collectors": fleet(conn, session.user.scope)}, session
    )
