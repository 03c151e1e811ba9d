"""The edge collector's inventory: its own devices with address and checks, nothing else.

Authenticated by a collector token (``ioc devices credentials issue --collector ID``), which no
other route accepts. Secrets are referenced by name in ``checks`` and never stored here.
"""

from __future__ import annotations

from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict

from api.deps import ConnDep, bearer
from devices import collector_tokens

router = APIRouter(prefix="/collector", tags=["collector"])

DEVICES_SQL = """
SELECT d.id, d.type, d.commune_code AS commune, d.site_id AS site, d.name, d.lat, d.lon,
       d.interval_s, d.address, d.checks, d.observed_by AS collector,
       coalesce(array_agg(p.parent_id ORDER BY p.parent_id = d.parent_id DESC, p.parent_id)
                FILTER (WHERE p.parent_id IS NOT NULL), '{}') AS parents
FROM devices d
LEFT JOIN (SELECT device_id, parent_id FROM device_parents
           UNION SELECT id, parent_id FROM devices WHERE parent_id IS NOT NULL) p
    ON p.device_id = d.id
WHERE (d.id = %(id)s
       OR (d.observed_by = %(id)s  -- its own commune only (migration 0700)
           AND d.commune_code = (SELECT commune_code FROM devices WHERE id = %(id)s)))
  AND d.decommissioned_at IS NULL
GROUP BY d.id
ORDER BY d.id = %(id)s DESC, d.id
"""
COMMUNES_SQL = """
SELECT c.code, c.name, c.province,
       coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
           'id', s.id, 'name', s.name, 'lat', s.lat, 'lon', s.lon)) ORDER BY s.id)
           FILTER (WHERE s.id IS NOT NULL), '[]') AS sites
FROM communes c
LEFT JOIN sites s ON s.commune_code = c.code AND s.id = ANY(%(sites)s)
WHERE c.code = ANY(%(codes)s)
GROUP BY c.code ORDER BY c.code
"""


class InventoryDevice(BaseModel):
    """A device in the collector's inventory (registry fields + address, checks, collector)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    type: str
    commune: str
    site: str | None = None
    name: str
    lat: float | None = None
    lon: float | None = None
    interval_s: int
    address: str | None = None
    checks: dict[str, dict[str, Any]] = {}
    collector: str | None = None
    parent: list[str] | None = None


class InventorySite(BaseModel):
    """A site referenced by the inventory's devices."""

    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    lat: float | None = None
    lon: float | None = None


class InventoryCommune(BaseModel):
    """A commune referenced by the inventory's devices."""

    model_config = ConfigDict(extra="forbid")
    code: str
    name: str
    province: str = ""
    sites: list[InventorySite] = []


class InventoryPublic(BaseModel):
    """An inventory document, readable by `ioc collector run --api`."""

    model_config = ConfigDict(extra="forbid")
    communes: list[InventoryCommune]
    devices: list[InventoryDevice]


def collector_id(
    request: Request,
    conn: ConnDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The collector identified by its token (401 otherwise)."""
    found = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        found = collector_tokens.lookup(conn, credentials.credentials)
    if found is None:
        limiter = request.app.state.limiter
        wait = limiter.hit("addr:" + (request.client.host if request.client else "?"))
        if wait:
            raise HTTPException(
                429, f"rate limit exceeded; retry in {wait} s", headers={"Retry-After": str(wait)}
            )
        raise HTTPException(
            401,
            "missing, invalid or revoked collector token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.user = f"collector:{found}"
    return found


def build_inventory(conn: psycopg.Connection, collector: str) -> InventoryPublic:
    """The collector itself and every in-service device it observes."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(DEVICES_SQL, {"id": collector}).fetchall()
        devices = []
        for row in rows:
            parents = row.pop("parents")
            devices.append(InventoryDevice(**row, parent=parents or None))
        communes = cur.execute(
            COMMUNES_SQL,
            {
                "codes": sorted({d.commune for d in devices}),
                "sites": sorted({d.site for d in devices if d.site}),
            },
        ).fetchall()
    return InventoryPublic(communes=[InventoryCommune(**c) for c in communes], devices=devices)


@router.get("/inventory", response_model=InventoryPublic, response_model_exclude_none=True)
def inventory(conn: ConnDep, collector: Annotated[str, Depends(collector_id)]) -> InventoryPublic:
    """The calling collector's inventory (collector token only)."""
    return build_inventory(conn, collector)
