"""Monthly availability report of a commune (what the commune hands to the province)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from api.deps import ConnDep, CurrentUser, StorageDep, invalid, not_found
from api.models.common import COMMUNE_PATTERN
from storage.availability import AvailabilityReport, monthly_report

router = APIRouter(prefix="/reports", tags=["reports"])


@router.get("/availability", response_model=AvailabilityReport)
def availability_report(
    conn: ConnDep,
    user: CurrentUser,
    settings: StorageDep,
    commune: Annotated[str, Query(pattern=COMMUNE_PATTERN, description="Commune code.")],
    month: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{4}-[0-9]{2}$", description="YYYY-MM; default the current month."),
    ] = None,
) -> AvailabilityReport:
    """Availability per device, site and type over a month; unreachable time not counted."""
    today = datetime.now(UTC).astimezone(ZoneInfo(settings.report.timezone)).date()
    try:
        first = date.fromisoformat(f"{month}-01") if month else today.replace(day=1)
    except ValueError:
        raise invalid("month", f"{month!r} is not a month (YYYY-MM)", "query") from None
    if first > today or first.year < 2000:
        raise invalid("month", "the month must be between 2000-01 and this month", "query")
    if not user.sees(commune):
        raise not_found("commune", commune)
    try:
        return monthly_report(conn, commune, first, settings=settings)
    except LookupError:
        raise not_found("commune", commune) from None
