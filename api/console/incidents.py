"""The incidents page: open root causes first with their impact, children folded under them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import psycopg
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from psycopg.rows import class_row

from api.console.session import SessionDep
from api.console.views import page
from api.deps import ConnDep, SettingsDep
from api.models.common import COMMUNE_PATTERN, ID_PATTERN
from devices.catalogue import TYPES
from ioc.bounds import nfc

router = APIRouter()

MUTED_ROOT = """NOT EXISTS (SELECT 1 FROM alerts r WHERE r.id = a.suppressed_by
    AND r.state <> 'resolved'
    AND (%(scope)s::text[] IS NULL OR r.commune_code = ANY(%(scope)s)))"""
FILTERS = """
WHERE a.state <> 'resolved'
  AND (%(scope)s::text[] IS NULL OR a.commune_code = ANY(%(scope)s))
  AND (%(commune)s::text IS NULL OR a.commune_code = %(commune)s)
  AND (%(site)s::text IS NULL OR a.site_id = %(site)s)
  AND (%(type)s::text IS NULL OR a.device_type = %(type)s)
  AND (%(severity)s::text IS NULL OR a.severity = %(severity)s)
  AND (%(state)s::text IS NULL
       OR (%(state)s IN ('firing', 'pending') AND a.state = %(state)s)
       OR (%(state)s = 'acked' AND a.acknowledged_at IS NOT NULL)
       OR (%(state)s = 'unacked' AND a.acknowledged_at IS NULL))
"""
COLUMNS = """
a.id, a.rule, a.severity, a.state, a.device_id, d.name AS device_name, a.device_type,
a.commune_code, c.name AS commune_name, a.site_id, a.summary, a.summary_en, a.value,
a.started_at, a.acknowledged_by, a.assignee, a.silenced_by <> '{}' AS silenced,
a.annotations -> 'impact' AS impact, a.suppressed_by
"""
JOINS = """
FROM alerts a
LEFT JOIN devices d ON d.id = a.device_id
LEFT JOIN communes c ON c.code = a.commune_code
"""
ROOT = f"(a.suppressed_by IS NULL OR {MUTED_ROOT})"
# What needs a person first: firing and neither silenced nor acknowledged, then severity, then
# root causes with an impact, then the newest.
ORDER = """(a.state = 'firing' AND a.silenced_by = '{}' AND a.acknowledged_at IS NULL) DESC,
    array_position(ARRAY['critical', 'warning', 'info'], a.severity),
    (a.annotations ? 'impact') DESC, a.started_at DESC, a.id DESC"""
ROOTS = f"""
SELECT {COLUMNS},
       (SELECT count(*) FROM alerts ch WHERE ch.suppressed_by = a.id AND ch.state <> 'resolved'
          AND (%(scope)s::text[] IS NULL OR ch.commune_code = ANY(%(scope)s))) AS children_total
{JOINS}
{FILTERS} AND {ROOT}
ORDER BY {ORDER}
LIMIT %(limit)s OFFSET %(offset)s
"""
ROOTS_COUNT = f"SELECT count(*) FROM alerts a {FILTERS} AND {ROOT}"
CHILDREN = f"""
SELECT * FROM (
    SELECT {COLUMNS}, 0::bigint AS children_total,
           row_number() OVER (PARTITION BY a.suppressed_by ORDER BY a.started_at DESC, a.id DESC)
               AS rank
    {JOINS}
    WHERE a.suppressed_by = ANY(%(roots)s) AND a.state <> 'resolved'
      AND (%(scope)s::text[] IS NULL OR a.commune_code = ANY(%(scope)s))
) x WHERE rank <= %(per_root)s
ORDER BY array_position(ARRAY['critical', 'warning', 'info'], severity), started_at DESC, id DESC
"""
COMMUNES = """
SELECT code, name FROM communes WHERE (%(scope)s::text[] IS NULL OR code = ANY(%(scope)s))
ORDER BY name
"""
# Sites to filter by: those of the chosen commune (or of the user's only commune).
SITES = """
SELECT id, name FROM sites
WHERE (%(scope)s::text[] IS NULL OR commune_code = ANY(%(scope)s))
  AND commune_code = coalesce(%(commune)s, (%(scope)s::text[])[1])
  AND (%(commune)s::text IS NOT NULL OR cardinality(%(scope)s::text[]) = 1)
ORDER BY name LIMIT 300
"""
CHILDREN_PER_ROOT = 10


@dataclass
class IncidentRow:
    """An open alert as listed on the incidents page."""

    id: int
    rule: str
    severity: str
    state: str
    device_id: str | None
    device_name: str | None
    device_type: str | None
    commune_code: str | None
    commune_name: str | None
    site_id: str | None
    summary: str
    summary_en: str
    value: float | None
    started_at: datetime
    acknowledged_by: str | None
    assignee: str | None
    silenced: bool
    impact: Any
    suppressed_by: int | None
    children_total: int
    rank: int = 0


def load(conn: psycopg.Connection, params: dict[str, Any]) -> dict[str, Any]:
    """Roots of one page, their first children, the total and the filter choices."""
    with conn.cursor(row_factory=class_row(IncidentRow)) as cur:
        roots = cur.execute(ROOTS, params).fetchall()
        kids = cur.execute(
            CHILDREN,
            {**params, "roots": [r.id for r in roots], "per_root": CHILDREN_PER_ROOT},
        ).fetchall()
    children: dict[int, list[IncidentRow]] = {}
    for kid in kids:
        children.setdefault(kid.suppressed_by or 0, []).append(kid)
    row = conn.execute(ROOTS_COUNT, params).fetchone()
    return {
        "roots": roots,
        "children": children,
        "total": row[0] if row else 0,
        "communes": [{"code": c, "name": n} for c, n in conn.execute(COMMUNES, params)],
        "sites": [{"id": i, "name": n} for i, n in conn.execute(SITES, params)],
        "types": sorted(TYPES),
    }


def open_count(conn: psycopg.Connection, scope: list[str] | None, commune: str | None) -> int:
    """Open incidents as the incidents page counts them (one number everywhere)."""
    params = {"scope": scope, "commune": commune, "site": None, "type": None}
    row = conn.execute(ROOTS_COUNT, {**params, "severity": None, "state": None}).fetchone()
    return int(row[0]) if row else 0


@router.get("/", response_class=HTMLResponse)
def incidents(
    request: Request,
    conn: ConnDep,
    session: SessionDep,
    settings: SettingsDep,
    commune: Annotated[str | None, Query(pattern=f"^$|{COMMUNE_PATTERN}")] = None,
    site: Annotated[str | None, Query(pattern=f"^$|{ID_PATTERN}")] = None,
    type: Annotated[str | None, Query(max_length=64)] = None,
    severity: Annotated[str | None, Query(pattern="^(|critical|warning|info)$")] = None,
    state: Annotated[str | None, Query(pattern="^(|firing|pending|acked|unacked)$")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> HTMLResponse:
    """Open incidents visible to the user, root causes first, newest first."""
    chosen = {
        "commune": commune or None,
        "site": nfc(site) if site else None,  # names and ids are stored in NFC
        "type": nfc(type) if type else None,
        "severity": severity or None,
        "state": state or None,
    }
    size = settings.console.page_size
    params = {**chosen, "scope": session.user.scope, "limit": size, "offset": offset}
    data = load(conn, params)

    def query(**changes: Any) -> str:
        values = {k: v for k, v in {**chosen, "offset": offset, **changes}.items() if v}
        return urlencode(values)

    return page(
        request,
        "incidents.html",
        {
            **data,
            "f": {**chosen, "offset": offset},
            "size": size,
            "query": query,
            "refresh": settings.console.refresh_s,
        },
        session,
    )
