"""The collector fleet: every edge collector with its version, last contact and buffer depth.

Read from what collectors send like any device: the ``collector_version`` event of their
heartbeat (version, inventory hash), ``device_status.last_seen`` and the ``buffer_depth``
metric. Commune-scoped like every user route.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from psycopg.rows import class_row
from pydantic import BaseModel, ConfigDict

from api.deps import ConnDep, CurrentUser

router = APIRouter(prefix="/collectors", tags=["collector"])

FLEET_SQL = """
SELECT d.id, d.commune_code, d.name,
       v.data ->> 'version' AS version, v.data ->> 'inventory_hash' AS inventory_hash,
       v.time AS version_since, s.last_seen AS last_contact, s.online,
       (SELECT l.value FROM device_latest l
        WHERE l.device_id = d.id AND l.metric = 'buffer_depth') AS buffer_depth,
       (SELECT count(*) FROM devices o
        WHERE o.observed_by = d.id AND o.decommissioned_at IS NULL) AS devices
FROM devices d
LEFT JOIN device_status s ON s.device_id = d.id
LEFT JOIN LATERAL (
    SELECT e.time, e.data FROM device_events e
    WHERE e.device_id = d.id AND e.type = 'collector_version'
    ORDER BY e.time DESC LIMIT 1
) v ON true
WHERE d.type = 'collector' AND d.decommissioned_at IS NULL
  AND (%(scope)s::text[] IS NULL OR d.commune_code = ANY(%(scope)s))
ORDER BY d.commune_code, d.id
"""


class CollectorPublic(BaseModel):
    """One collector as the fleet view shows it."""

    model_config = ConfigDict(extra="forbid")
    id: str
    commune_code: str
    name: str
    version: str | None
    inventory_hash: str | None
    version_since: datetime | None
    last_contact: datetime | None
    online: bool | None
    buffer_depth: float | None
    devices: int


class CollectorsPublic(BaseModel):
    """The fleet."""

    model_config = ConfigDict(extra="forbid")
    data: list[CollectorPublic]
    count: int


def fleet(conn: ConnDep, scope: list[str] | None) -> list[CollectorPublic]:
    """Every collector the caller may see."""
    with conn.cursor(row_factory=class_row(CollectorPublic)) as cur:
        return cur.execute(FLEET_SQL, {"scope": scope}).fetchall()


@router.get("", response_model=CollectorsPublic)
def list_collectors(conn: ConnDep, user: CurrentUser) -> CollectorsPublic:
    """Edge collectors: version and inventory hash, last contact, readings still buffered."""
    rows = fleet(conn, user.scope)
    return CollectorsPublic(data=rows, count=len(rows))
