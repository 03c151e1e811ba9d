"""The "Báo cáo tháng" page: the monthly availability report of a commune as PDF or XLSX, and
the letterhead it is issued under (commune users for their commune, province users for all)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.console.session import PREFIX, SessionDep, check_csrf
from api.console.views import page
from api.deps import ConnDep, StorageDep
from api.models.common import COMMUNE_PATTERN
from storage import render
from storage.availability import monthly_report
from storage.letterhead import Letterhead, load_letterhead, save_letterhead

router = APIRouter()

COMMUNES = """
SELECT code, name, province FROM communes
WHERE (%(scope)s::text[] IS NULL OR code = ANY(%(scope)s)) ORDER BY name
"""
MONTH = r"^[0-9]{4}-[0-9]{2}$"
TYPES = {"pdf": "application/pdf", "xlsx": render.XLSX_TYPE}
Code = Annotated[str | None, Query(pattern=f"^$|{COMMUNE_PATTERN}")]


def _month(value: str | None, today: date) -> date:
    try:
        first = date.fromisoformat(f"{value}-01") if value else today.replace(day=1)
    except ValueError:
        raise HTTPException(422, f"month: {value!r} is not a month (YYYY-MM)") from None
    if first > today or first.year < 2000:
        raise HTTPException(422, "month: choose a month between 2000-01 and this month")
    return first


@router.get("/reports", response_class=HTMLResponse)
def reports_page(
    request: Request,
    conn: ConnDep,
    session: SessionDep,
    settings: StorageDep,
    commune: Code = None,
    done: str | None = None,
) -> HTMLResponse:
    """Pick a commune and a month; download; edit the letterhead."""
    communes = conn.execute(COMMUNES, {"scope": session.user.scope}).fetchall()
    chosen = next((c for c in communes if c[0] == commune), communes[0] if communes else None)
    today = datetime.now(UTC).astimezone(ZoneInfo(settings.report.timezone)).date()
    head = load_letterhead(conn, *chosen) if chosen else None
    return page(
        request,
        "reports.html",
        {
            "communes": communes,
            "chosen": chosen,
            "head": head,
            "month": today.strftime("%Y-%m"),
            "message": "saved" if done == "letterhead" else None,
        },
        session,
    )


@router.get("/reports/download")
def download(
    conn: ConnDep,
    session: SessionDep,
    settings: StorageDep,
    commune: Annotated[str, Query(pattern=COMMUNE_PATTERN)],
    month: Annotated[str | None, Query(pattern=f"^$|{MONTH}")] = None,
    format: Annotated[str, Query(pattern="^(pdf|xlsx)$")] = "pdf",
    number: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The report file of one commune and month."""
    if not session.user.sees(commune):
        raise HTTPException(404, "Không tìm thấy.")
    today = datetime.now(UTC).astimezone(ZoneInfo(settings.report.timezone)).date()
    first = _month(month, today)
    try:
        report = monthly_report(conn, commune, first, settings=settings)
    except LookupError:
        raise HTTPException(404, "Không tìm thấy.") from None
    report.letterhead.number = number.strip()
    body = render.render(report, "pdf" if format == "pdf" else "xlsx")
    name = f"bao-cao-{commune}-{first:%Y-%m}.{format}"
    return Response(
        body,
        media_type=TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/reports/letterhead")
def letterhead(
    conn: ConnDep,
    session: SessionDep,
    commune: Annotated[str, Form(pattern=COMMUNE_PATTERN)],
    csrf: Annotated[str | None, Form()] = None,
    issuing_body: Annotated[str, Form(max_length=200)] = "",
    symbol: Annotated[str, Form(max_length=40)] = "BC-UBND",
    place: Annotated[str, Form(max_length=100)] = "",
    signer_title: Annotated[str, Form(max_length=100)] = "CHỦ TỊCH",
    signer_name: Annotated[str, Form(max_length=200)] = "",
    recipients: Annotated[str, Form(max_length=4000)] = "",
) -> RedirectResponse:
    """Save the letterhead of a commune the user sees."""
    check_csrf(session.csrf, csrf)
    if not session.user.sees(commune):
        raise HTTPException(404, "Không tìm thấy.")
    try:
        head = Letterhead(
            issuing_body=issuing_body.replace("\r\n", "\n"),
            symbol=symbol,
            place=place,
            signer_title=signer_title,
            signer_name=signer_name,
            recipients=[r.strip() for r in recipients.splitlines() if r.strip()],
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise HTTPException(422, problems) from None
    save_letterhead(conn, commune, head, session.user.name)
    return RedirectResponse(f"{PREFIX}/reports?commune={commune}&done=letterhead", status_code=303)
