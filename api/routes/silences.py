"""Silences and maintenance windows: create, list, expire."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Path, Query
from psycopg.rows import class_row

from api.deps import ConnDep, CurrentUser, PageDep, Technician, invalid, not_found
from api.models.alerts import SilenceCreate, SilencePublic, SilencesPublic
from api.security import Principal
from api.sqlutil import fetch_page
from ioc.bounds import clamped_sql
from ioc.ops import actions

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
    try:
        silence_id = actions.create_silence(
            conn, body, actor=user.name, channel="api", scope=user.scope
        )
    except actions.ActionRefused as exc:
        raise invalid(exc.field, exc.message) from None
    return fetch(conn, silence_id, user)


@router.delete("/{silence_id}", response_model=SilencePublic)
def expire_silence(conn: ConnDep, user: Technician, silence_id: SilenceId) -> SilencePublic:
    """Expire a silence now (technician); it stays listed as expired."""
    fetch(conn, silence_id, user)
    actions.expire_silence(conn, silence_id, actor=user.name, channel="api")
    return fetch(conn, silence_id, user)
