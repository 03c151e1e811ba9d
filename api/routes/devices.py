"""Devices: list, get, create, update, decommission (history is never deleted)."""

from __future__ import annotations

from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, HTTPException, Path, Query
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from api import audit
from api.deps import Admin, ConnDep, CurrentUser, PageDep, check_scope, invalid, not_found
from api.models.common import COMMUNE_PATTERN, CONFLICT, ID_PATTERN, NfcStr
from api.models.registry import (
    DeviceCreate,
    DevicePublic,
    DevicesPublic,
    DeviceState,
    DeviceUpdate,
)
from api.scope import parents_problem, site_problem
from api.security import Principal
from api.sqlutil import fetch_page, update_statement
from devices.catalogue import TYPES

router = APIRouter(prefix="/devices", tags=["registry"])
DeviceId = Annotated[str, Path(pattern=ID_PATTERN, description="Device id.")]

# Health per device row: OFFSET 0 keeps the view from being flattened, so a page of devices
# costs its own index probes (2 ms for 100 devices of 10,000; joined flat it computed the whole
# fleet, 65 ms, and past the JIT threshold 700 ms: bench/device_health.py).
HEALTH_JOIN = """LEFT JOIN LATERAL (
    SELECT h.health, h.symptom FROM device_health h WHERE h.device_id = d.id OFFSET 0
) h ON true"""
STATE = """CASE WHEN d.decommissioned_at IS NOT NULL THEN 'decommissioned'
     ELSE coalesce(r.state, 'unknown') END"""
SELECT = f"""
SELECT d.id, d.type, d.commune_code, d.site_id, d.parent_id,
       coalesce((SELECT array_agg(p.parent_id ORDER BY p.parent_id IS DISTINCT FROM d.parent_id,
                                  p.parent_id)
                 FROM device_parents p WHERE p.device_id = d.id), '{{}}') AS parents,
       d.name, d.lat, d.lon, d.interval_s, d.metadata, {STATE} AS state, r.since AS state_since,
       d.decommissioned_at, d.created_at, d.updated_at,
       CASE WHEN d.decommissioned_at IS NULL THEN coalesce(h.health, 'unknown')
            ELSE 'unknown' END AS health,
       CASE WHEN d.decommissioned_at IS NULL THEN h.symptom END AS symptom
FROM devices d LEFT JOIN device_reachability r ON r.device_id = d.id
{HEALTH_JOIN}
"""
WHERE = f"""
WHERE (%(scope)s::text[] IS NULL OR d.commune_code = ANY(%(scope)s))
  AND (%(commune)s::text IS NULL OR d.commune_code = %(commune)s)
  AND (%(site)s::text IS NULL OR d.site_id = %(site)s)
  AND (%(type)s::text IS NULL OR d.type = %(type)s)
  AND (%(q)s::text IS NULL OR d.name ILIKE '%%' || %(q)s || '%%' OR d.id ILIKE %(q)s || '%%')
  AND (%(id)s::text IS NOT NULL
       OR (%(state)s::text IS NULL AND d.decommissioned_at IS NULL) OR {STATE} = %(state)s)
  AND (%(id)s::text IS NULL OR d.id = %(id)s)
"""
LIST = SELECT + WHERE + "ORDER BY d.id LIMIT %(limit)s OFFSET %(offset)s"
COUNT = (
    "SELECT count(*) FROM devices d LEFT JOIN device_reachability r ON r.device_id = d.id " + WHERE
)
INSERT = """
INSERT INTO devices (id, type, commune_code, site_id, parent_id, name, lat, lon, interval_s,
                     metadata)
VALUES (%(id)s, %(type)s, %(commune_code)s, %(site_id)s, %(parent_id)s, %(name)s, %(lat)s,
        %(lon)s, %(interval_s)s, %(metadata)s)
"""
CLEAR_PARENTS = "DELETE FROM device_parents WHERE device_id = %(id)s"
ADD_PARENTS = """
INSERT INTO device_parents (device_id, parent_id) SELECT %(id)s, unnest(%(parents)s::text[])
"""
UPDATE_PRIMARY = "UPDATE devices SET parent_id = %(parent)s WHERE id = %(id)s"
COMMUNE_EXISTS = "SELECT 1 FROM communes WHERE code = %(code)s"
DECOMMISSION = """
UPDATE devices SET decommissioned_at = now(), updated_at = now()
WHERE id = %(id)s AND decommissioned_at IS NULL
"""
EXISTS = "SELECT 1 FROM devices WHERE id = %(id)s"


def fetch(conn: psycopg.Connection, device_id: str, scope: list[str] | None) -> DevicePublic:
    """One visible device (decommissioned included), or 404."""
    params = {
        "scope": scope,
        "commune": None,
        "site": None,
        "type": None,
        "q": None,
        "state": None,
        "id": device_id,
    }
    with conn.cursor(row_factory=class_row(DevicePublic)) as cur:
        row = cur.execute(SELECT + WHERE, params).fetchone()
    if row is None:
        raise not_found("device", device_id)
    return row


def _check_site(conn: psycopg.Connection, site_id: str | None, commune: str) -> None:
    problem = site_problem(conn, site_id, commune)
    if problem:
        raise invalid("site_id", problem)


def _check_parents(
    conn: psycopg.Connection, user: Principal, device_id: str, parents: list[str]
) -> None:
    problem = parents_problem(conn, user, device_id, parents)
    if problem:
        raise invalid("parents", problem)


def _set_parents(conn: psycopg.Connection, device_id: str, parents: list[str]) -> None:
    conn.execute(CLEAR_PARENTS, {"id": device_id})
    conn.execute(ADD_PARENTS, {"id": device_id, "parents": parents})
    conn.execute(UPDATE_PRIMARY, {"id": device_id, "parent": parents[0] if parents else None})


@router.get("", response_model=DevicesPublic)
def list_devices(
    conn: ConnDep,
    user: CurrentUser,
    page: PageDep,
    commune: Annotated[str | None, Query(pattern=COMMUNE_PATTERN)] = None,
    site: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    type: Annotated[str | None, Query(max_length=40, description="Device type.")] = None,
    state: Annotated[
        DeviceState | None,
        Query(description="Reachability state; decommissioned devices only when asked for."),
    ] = None,
    q: Annotated[NfcStr | None, Query(max_length=100, description="Search id and name.")] = None,
) -> DevicesPublic:
    """Devices visible to the caller, by id."""
    params: dict[str, Any] = {
        "scope": user.scope,
        "commune": commune,
        "site": site,
        "type": type,
        "q": q,
        "state": state,
        "id": None,
        "limit": page.limit,
        "offset": page.offset,
    }
    rows, count = fetch_page(conn, LIST, COUNT, params, DevicePublic)
    return DevicesPublic(data=rows, count=count, limit=page.limit, offset=page.offset)


@router.get("/{device_id}", response_model=DevicePublic)
def get_device(conn: ConnDep, user: CurrentUser, device_id: DeviceId) -> DevicePublic:
    """One device."""
    return fetch(conn, device_id, user.scope)


@router.post("", response_model=DevicePublic, status_code=201, responses=CONFLICT)
def create_device(conn: ConnDep, user: Admin, body: DeviceCreate) -> DevicePublic:
    """Register a device (admin)."""
    if body.type not in TYPES:
        raise invalid("type", f"unknown device type {body.type!r}; known: {', '.join(TYPES)}")
    check_scope(user, body.commune_code, "commune_code")
    if conn.execute(COMMUNE_EXISTS, {"code": body.commune_code}).fetchone() is None:
        raise invalid("commune_code", f"unknown commune {body.commune_code}")
    _check_site(conn, body.site_id, body.commune_code)
    _check_parents(conn, user, body.id, body.parents)
    values = body.model_dump()
    values["interval_s"] = body.interval_s or TYPES[body.type].interval_s
    values["metadata"] = Jsonb(body.metadata)
    values["parent_id"] = body.parents[0] if body.parents else None
    try:
        with conn.transaction():
            conn.execute(INSERT, values)
            _set_parents(conn, body.id, body.parents)
            audit.record(
                conn, user.name, "create", "device", body.id, body.commune_code, body.model_dump()
            )
    except psycopg.errors.UniqueViolation:
        raise HTTPException(409, f"device {body.id} already exists") from None
    return fetch(conn, body.id, user.scope)


@router.patch("/{device_id}", response_model=DevicePublic)
def update_device(
    conn: ConnDep,
    user: Admin,
    device_id: DeviceId,
    body: DeviceUpdate,
) -> DevicePublic:
    """Change a device's fields (admin); omitted fields stay as they are."""
    device = fetch(conn, device_id, user.scope)
    changes = body.model_dump(exclude_unset=True)
    for key in ("name", "interval_s", "metadata"):
        if key in changes and changes[key] is None:
            raise invalid(key, f"{key} cannot be null")
    parents = changes.pop("parents", None)
    if "site_id" in changes:
        _check_site(conn, changes["site_id"], device.commune_code)
    if parents is not None:
        _check_parents(conn, user, device_id, parents)
    params = {k: Jsonb(v) if k == "metadata" else v for k, v in changes.items()}
    with conn.transaction():
        if params:
            conn.execute(update_statement("devices", "id", params), {**params, "_key": device_id})
        if parents is not None:
            _set_parents(conn, device_id, parents)
        audit.record(
            conn,
            user.name,
            "update",
            "device",
            device_id,
            device.commune_code,
            body.model_dump(exclude_unset=True),
        )
    return fetch(conn, device_id, user.scope)


@router.post("/{device_id}/decommission", response_model=DevicePublic)
def decommission_device(conn: ConnDep, user: Admin, device_id: DeviceId) -> DevicePublic:
    """Take a device out of service (admin); its telemetry, events and alerts are kept."""
    device = fetch(conn, device_id, user.scope)
    with conn.transaction():
        if conn.execute(DECOMMISSION, {"id": device_id}).rowcount:
            audit.record(conn, user.name, "decommission", "device", device_id, device.commune_code)
    return fetch(conn, device_id, user.scope)
