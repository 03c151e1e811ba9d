"""Silences and maintenance windows: create, list, expire."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Path, Query
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from api import audit
from api.deps import ConnDep, CurrentUser, PageDep, Technician, invalid, not_found
from api.models.alerts import SilenceCreate, SilencePublic, SilencesPublic
from api.security import Principal
from api.sqlutil import fetch_page
from ioc.bounds import clamped_sql

router = APIRouter(prefix="/silences", tags=["alerts"])

# Matcher labels that confine a silence to one commune (directly or through a device/site).
COMMUNE_LABELS = ("commune",)
DEVICE_LABELS = ("device",)
SITE_LABELS = ("site",)

STATE = """CASE WHEN s.expired_at IS NOT NULL OR s.ends_at <= now() THEN 'expired'
     WHEN s.starts_at > now() THEN 'pending' ELSE 'active' END"""
# Rows written before the checks existed (or by hand) may hold instants Python cannot represent
# or JSON of the wrong shape: they are shown clamped to ioc.bounds and emptied, never a 500.
SELECT = f"""
SELECT s.id,
       CASE WHEN jsonb_typeof(s.matchers) = 'array' THEN (
           SELECT coalesce(jsonb_agg(m), '[]') FROM jsonb_array_elements(s.matchers) m
           WHERE jsonb_typeof(m) = 'object') ELSE '[]' END AS matchers,
       {clamped_sql("s.starts_at")} AS starts_at,
       {clamped_sql("s.ends_at")} AS ends_at,
       CASE WHEN jsonb_typeof(s.recurrence) = 'object' THEN s.recurrence END AS recurrence,
       s.created_by, s.comment, s.created_at,
       {clamped_sql("s.expired_at")} AS expired_at,
       {STATE} AS state
FROM silences s
"""
WHERE = f"""
WHERE (%(id)s::bigint IS NULL OR s.id = %(id)s)
  AND (%(state)s::text IS NULL OR {STATE} = %(state)s)
  AND (%(scope)s::text[] IS NULL OR EXISTS (
      SELECT 1 FROM jsonb_array_elements(
          CASE WHEN jsonb_typeof(s.matchers) = 'array' THEN s.matchers ELSE '[]' END) m
      WHERE jsonb_typeof(m) = 'object' AND m->>'op' = '=' AND (
          (m->>'label' = ANY(%(commune_labels)s) AND m->>'value' = ANY(%(scope)s))
          OR (m->>'label' = ANY(%(device_labels)s) AND EXISTS (
              SELECT 1 FROM devices d
              WHERE d.id = m->>'value' AND d.commune_code = ANY(%(scope)s)))
          OR (m->>'label' = ANY(%(site_labels)s) AND EXISTS (
              SELECT 1 FROM sites x
              WHERE x.id = m->>'value' AND x.commune_code = ANY(%(scope)s))))))
"""
LIST = SELECT + WHERE + "ORDER BY s.created_at DESC, s.id DESC LIMIT %(limit)s OFFSET %(offset)s"
COUNT = "SELECT count(*) FROM silences s " + WHERE
INSERT = """
INSERT INTO silences (matchers, starts_at, ends_at, recurrence, created_by, comment)
VALUES (%(matchers)s, coalesce(%(starts_at)s, now()), %(ends_at)s, %(recurrence)s, %(user)s,
        %(comment)s)
RETURNING id
"""
EXPIRE = """
UPDATE silences SET expired_at = now()
WHERE id = %(id)s AND expired_at IS NULL AND ends_at > now()
"""
DEVICE_COMMUNE = "SELECT commune_code FROM devices WHERE id = %(id)s"
SITE_COMMUNE = "SELECT commune_code FROM sites WHERE id = %(id)s"

SilenceId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Silence id.")]


def _params(user: Principal, **extra: Any) -> dict[str, Any]:
    return {
        "scope": user.scope,
        "commune_labels": list(COMMUNE_LABELS),
        "device_labels": list(DEVICE_LABELS),
        "site_labels": list(SITE_LABELS),
        "id": None,
        "state": None,
        **extra,
    }


def fetch(conn: psycopg.Connection, silence_id: int, user: Principal) -> SilencePublic:
    """One visible silence, or 404."""
    with conn.cursor(row_factory=class_row(SilencePublic)) as cur:
        row = cur.execute(SELECT + WHERE, _params(user, id=silence_id)).fetchone()
    if row is None:
        raise not_found("silence", silence_id)
    return row


def _check_scope(conn: psycopg.Connection, user: Principal, body: SilenceCreate) -> None:
    """A commune-scoped caller may only silence inside their communes."""
    if user.scope is None:
        return
    confined = False
    for i, m in enumerate(body.matchers):
        if m.op != "=":
            continue
        if m.label in COMMUNE_LABELS:
            commune: str | None = m.value
        elif m.label in DEVICE_LABELS or m.label in SITE_LABELS:
            query = DEVICE_COMMUNE if m.label in DEVICE_LABELS else SITE_COMMUNE
            row = conn.execute(query, {"id": m.value}).fetchone()
            commune = row[0] if row else None
        else:
            continue
        if commune is None or not user.sees(commune):
            raise invalid(f"matchers.{i}.value", f"{m.label} {m.value} is outside your communes")
        confined = True
    if not confined:
        raise invalid(
            "matchers",
            "a commune-scoped user must include a matcher commune=, site= or device= "
            "naming one of their communes",
        )


@router.get("", response_model=SilencesPublic)
def list_silences(
    conn: ConnDep,
    user: CurrentUser,
    page: PageDep,
    state: Annotated[Literal["pending", "active", "expired"] | None, Query()] = None,
) -> SilencesPublic:
    """Silences visible to the caller (scoped users: those confined to their communes)."""
    params = _params(user, state=state, limit=page.limit, offset=page.offset)
    rows, count = fetch_page(conn, LIST, COUNT, params, SilencePublic)
    return SilencesPublic(data=rows, count=count, limit=page.limit, offset=page.offset)


@router.get("/{silence_id}", response_model=SilencePublic)
def get_silence(conn: ConnDep, user: CurrentUser, silence_id: SilenceId) -> SilencePublic:
    """One silence."""
    return fetch(conn, silence_id, user)


@router.post("", response_model=SilencePublic, status_code=201)
def create_silence(conn: ConnDep, user: Technician, body: SilenceCreate) -> SilencePublic:
    """Mute matching alerts between starts_at and ends_at (technician); author = caller."""
    if body.starts_at is not None and body.starts_at >= body.ends_at:
        raise invalid("ends_at", "ends_at must be after starts_at")
    _check_scope(conn, user, body)
    matchers = [m.model_dump() for m in body.matchers]
    with conn.transaction():
        row = conn.execute(
            INSERT,
            {
                "matchers": Jsonb(matchers),
                "starts_at": body.starts_at,
                "ends_at": body.ends_at,
                "recurrence": Jsonb(body.recurrence.model_dump(mode="json"))
                if body.recurrence
                else None,
                "user": user.name,
                "comment": body.comment,
            },
        ).fetchone()
        assert row is not None
        commune = next((m.value for m in body.matchers if m.label in COMMUNE_LABELS), None)
        audit.record(
            conn, user.name, "create", "silence", row[0], commune, body.model_dump(mode="json")
        )
        # Read back inside the transaction: if the row cannot be shown, nothing is committed.
        return fetch(conn, row[0], user)


@router.delete("/{silence_id}", response_model=SilencePublic)
def expire_silence(conn: ConnDep, user: Technician, silence_id: SilenceId) -> SilencePublic:
    """Expire a silence now (technician); it stays listed as expired."""
    fetch(conn, silence_id, user)
    with conn.transaction():
        if conn.execute(EXPIRE, {"id": silence_id}).rowcount:
            audit.record(conn, user.name, "expire", "silence", silence_id)
    return fetch(conn, silence_id, user)
