"""Sites: list, get, create, update."""

from __future__ import annotations

from typing import Annotated

import psycopg
from fastapi import APIRouter, HTTPException, Path, Query
from psycopg.rows import class_row

from api import audit
from api.deps import Admin, ConnDep, CurrentUser, PageDep, check_scope, invalid, not_found
from api.models.common import COMMUNE_PATTERN, CONFLICT, ID_PATTERN, NfcStr
from api.models.registry import SiteCreate, SitePublic, SitesPublic, SiteUpdate
from api.sqlutil import fetch_page, update_statement

router = APIRouter(prefix="/sites", tags=["registry"])

SELECT = """
SELECT s.id, s.commune_code, s.name, s.lat, s.lon, s.created_at, s.updated_at,
       (SELECT count(*) FROM devices d
        WHERE d.site_id = s.id AND d.decommissioned_at IS NULL) AS devices
FROM sites s
"""
WHERE = """
WHERE (%(scope)s::text[] IS NULL OR s.commune_code = ANY(%(scope)s))
  AND (%(commune)s::text IS NULL OR s.commune_code = %(commune)s)
  AND (%(q)s::text IS NULL OR s.name ILIKE '%%' || %(q)s || '%%' OR s.id ILIKE %(q)s || '%%')
  AND (%(id)s::text IS NULL OR s.id = %(id)s)
"""
LIST = SELECT + WHERE + "ORDER BY s.commune_code, s.id LIMIT %(limit)s OFFSET %(offset)s"
COUNT = "SELECT count(*) FROM sites s " + WHERE
INSERT = """
INSERT INTO sites (id, commune_code, name, lat, lon)
VALUES (%(id)s, %(commune_code)s, %(name)s, %(lat)s, %(lon)s)
"""
COMMUNE_EXISTS = "SELECT 1 FROM communes WHERE code = %(code)s"


def fetch(conn: psycopg.Connection, site_id: str, scope: list[str] | None) -> SitePublic:
    """One visible site, or 404."""
    params = {"scope": scope, "commune": None, "q": None, "id": site_id}
    with conn.cursor(row_factory=class_row(SitePublic)) as cur:
        row = cur.execute(SELECT + WHERE, params).fetchone()
    if row is None:
        raise not_found("site", site_id)
    return row


@router.get("", response_model=SitesPublic)
def list_sites(
    conn: ConnDep,
    user: CurrentUser,
    page: PageDep,
    commune: Annotated[str | None, Query(pattern=COMMUNE_PATTERN)] = None,
    q: Annotated[NfcStr | None, Query(max_length=100, description="Search id and name.")] = None,
) -> SitesPublic:
    """Sites visible to the caller."""
    params = {
        "scope": user.scope,
        "commune": commune,
        "q": q,
        "id": None,
        "limit": page.limit,
        "offset": page.offset,
    }
    rows, count = fetch_page(conn, LIST, COUNT, params, SitePublic)
    return SitesPublic(data=rows, count=count, limit=page.limit, offset=page.offset)


@router.get("/{site_id}", response_model=SitePublic)
def get_site(
    conn: ConnDep, user: CurrentUser, site_id: Annotated[str, Path(pattern=ID_PATTERN)]
) -> SitePublic:
    """One site."""
    return fetch(conn, site_id, user.scope)


@router.post("", response_model=SitePublic, status_code=201, responses=CONFLICT)
def create_site(conn: ConnDep, user: Admin, body: SiteCreate) -> SitePublic:
    """Add a site to a commune (admin)."""
    check_scope(user, body.commune_code, "commune_code")
    if conn.execute(COMMUNE_EXISTS, {"code": body.commune_code}).fetchone() is None:
        raise invalid("commune_code", f"unknown commune {body.commune_code}")
    try:
        with conn.transaction():
            conn.execute(INSERT, body.model_dump())
            audit.record(
                conn, user.name, "create", "site", body.id, body.commune_code, body.model_dump()
            )
    except psycopg.errors.UniqueViolation:
        raise HTTPException(409, f"site {body.id} already exists") from None
    return fetch(conn, body.id, user.scope)


@router.patch("/{site_id}", response_model=SitePublic)
def update_site(
    conn: ConnDep,
    user: Admin,
    site_id: Annotated[str, Path(pattern=ID_PATTERN)],
    body: SiteUpdate,
) -> SitePublic:
    """Rename or move a site (admin)."""
    site = fetch(conn, site_id, user.scope)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("name", "") is None:
        del changes["name"]
    if changes:
        with conn.transaction():
            conn.execute(update_statement("sites", "id", changes), {**changes, "_key": site_id})
            audit.record(conn, user.name, "update", "site", site_id, site.commune_code, changes)
    return fetch(conn, site_id, user.scope)
