"""Communes: list, get, create, update."""

from __future__ import annotations

from typing import Annotated

import psycopg
from fastapi import APIRouter, HTTPException, Path, Query
from psycopg.rows import class_row

from api import audit
from api.deps import Admin, ConnDep, CurrentUser, PageDep, check_scope, not_found
from api.models.common import COMMUNE_PATTERN, CONFLICT, NfcStr
from api.models.registry import CommuneCreate, CommunePublic, CommunesPublic, CommuneUpdate
from api.sqlutil import fetch_page, update_statement

router = APIRouter(prefix="/communes", tags=["registry"])

SELECT = """
SELECT c.code, c.name, c.province, c.created_at, c.updated_at,
       (SELECT count(*) FROM sites s WHERE s.commune_code = c.code) AS sites,
       (SELECT count(*) FROM devices d
        WHERE d.commune_code = c.code AND d.decommissioned_at IS NULL) AS devices
FROM communes c
"""
WHERE = """
WHERE (%(scope)s::text[] IS NULL OR c.code = ANY(%(scope)s))
  AND (%(q)s::text IS NULL OR c.name ILIKE '%%' || %(q)s || '%%' OR c.code = %(q)s
       OR c.province ILIKE '%%' || %(q)s || '%%')
  AND (%(code)s::text IS NULL OR c.code = %(code)s)
"""
LIST = SELECT + WHERE + "ORDER BY c.code LIMIT %(limit)s OFFSET %(offset)s"
COUNT = "SELECT count(*) FROM communes c " + WHERE
INSERT = "INSERT INTO communes (code, name, province) VALUES (%(code)s, %(name)s, %(province)s)"


def fetch(conn: psycopg.Connection, code: str, scope: list[str] | None) -> CommunePublic:
    """One visible commune, or 404."""
    params = {"scope": scope, "q": None, "code": code}
    with conn.cursor(row_factory=class_row(CommunePublic)) as cur:
        row = cur.execute(SELECT + WHERE, params).fetchone()
    if row is None:
        raise not_found("commune", code)
    return row


@router.get("", response_model=CommunesPublic)
def list_communes(
    conn: ConnDep,
    user: CurrentUser,
    page: PageDep,
    q: Annotated[
        NfcStr | None, Query(max_length=100, description="Search code, name, province.")
    ] = None,
) -> CommunesPublic:
    """Communes visible to the caller."""
    params = {"scope": user.scope, "q": q, "code": None, "limit": page.limit, "offset": page.offset}
    rows, count = fetch_page(conn, LIST, COUNT, params, CommunePublic)
    return CommunesPublic(data=rows, count=count, limit=page.limit, offset=page.offset)


@router.get("/{code}", response_model=CommunePublic)
def get_commune(
    conn: ConnDep, user: CurrentUser, code: Annotated[str, Path(pattern=COMMUNE_PATTERN)]
) -> CommunePublic:
    """One commune."""
    return fetch(conn, code, user.scope)


@router.post("", response_model=CommunePublic, status_code=201, responses=CONFLICT)
def create_commune(conn: ConnDep, user: Admin, body: CommuneCreate) -> CommunePublic:
    """Add a commune (admin)."""
    check_scope(user, body.code, "code")
    try:
        with conn.transaction():
            conn.execute(INSERT, body.model_dump())
            audit.record(
                conn, user.name, "create", "commune", body.code, body.code, body.model_dump()
            )
    except psycopg.errors.UniqueViolation:
        raise HTTPException(409, f"commune {body.code} already exists") from None
    return fetch(conn, body.code, user.scope)


@router.patch("/{code}", response_model=CommunePublic)
def update_commune(
    conn: ConnDep,
    user: Admin,
    code: Annotated[str, Path(pattern=COMMUNE_PATTERN)],
    body: CommuneUpdate,
) -> CommunePublic:
    """Rename a commune or change its province (admin)."""
    fetch(conn, code, user.scope)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if changes:
        with conn.transaction():
            conn.execute(update_statement("communes", "code", changes), {**changes, "_key": code})
            audit.record(conn, user.name, "update", "commune", code, code, changes)
    return fetch(conn, code, user.scope)
