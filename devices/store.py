"""Registry persistence: catalogue sync, idempotent import, and a snapshot for readers."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg.types.json import Jsonb

from devices.catalogue import CATALOGUE, all_metrics
from devices.references import referenced, unknown_references
from devices.registry import Registry, RegistryError

UPSERT_TYPE = """
INSERT INTO device_types (type, name_vi, name_en, default_interval_s)
VALUES (%(type)s, %(vi)s, %(en)s, %(interval)s)
ON CONFLICT (type) DO UPDATE SET name_vi = excluded.name_vi, name_en = excluded.name_en,
    default_interval_s = excluded.default_interval_s
"""
UPSERT_METRIC = """
INSERT INTO metrics (name, unit, kind, description_vi, description_en, enum_values)
VALUES (%(name)s, %(unit)s, %(kind)s, %(vi)s, %(en)s, %(enum)s)
ON CONFLICT (name) DO UPDATE SET unit = excluded.unit, kind = excluded.kind,
    description_vi = excluded.description_vi, description_en = excluded.description_en,
    enum_values = excluded.enum_values
"""
LINK_TYPE_METRIC = """
INSERT INTO device_type_metrics (type, metric_id)
SELECT %(type)s, id FROM metrics WHERE name = %(metric)s
ON CONFLICT DO NOTHING
"""

UPSERT_COMMUNE = """
INSERT INTO communes (code, name, province) VALUES (%(code)s, %(name)s, %(province)s)
ON CONFLICT (code) DO UPDATE SET name = excluded.name, province = excluded.province,
    updated_at = now()
WHERE (communes.name, communes.province) IS DISTINCT FROM (excluded.name, excluded.province)
RETURNING (xmax = 0) AS inserted
"""
UPSERT_SITE = """
INSERT INTO sites (id, commune_code, name, lat, lon)
VALUES (%(id)s, %(commune)s, %(name)s, %(lat)s, %(lon)s)
ON CONFLICT (id) DO UPDATE SET commune_code = excluded.commune_code, name = excluded.name,
    lat = excluded.lat, lon = excluded.lon, updated_at = now()
WHERE (sites.commune_code, sites.name, sites.lat, sites.lon)
    IS DISTINCT FROM (excluded.commune_code, excluded.name, excluded.lat, excluded.lon)
RETURNING (xmax = 0) AS inserted
"""
UPSERT_DEVICE = """
INSERT INTO devices (id, type, commune_code, site_id, parent_id, name, lat, lon, interval_s,
                     metadata, decommissioned_at, observed_by, address, checks)
VALUES (%(id)s, %(type)s, %(commune)s, %(site)s, %(parent)s, %(name)s,
        coalesce(%(lat)s, (SELECT lat FROM sites WHERE id = %(site)s)),
        coalesce(%(lon)s, (SELECT lon FROM sites WHERE id = %(site)s)),
        %(interval)s, %(metadata)s, CASE WHEN %(decommissioned)s THEN now() END,
        %(observed_by)s, %(address)s, %(checks)s)
ON CONFLICT (id) DO UPDATE SET type = excluded.type, commune_code = excluded.commune_code,
    site_id = excluded.site_id, parent_id = excluded.parent_id, name = excluded.name,
    lat = excluded.lat, lon = excluded.lon, interval_s = excluded.interval_s,
    metadata = excluded.metadata, observed_by = excluded.observed_by,
    address = excluded.address, checks = excluded.checks,
    decommissioned_at = CASE WHEN %(decommissioned)s
                             THEN coalesce(devices.decommissioned_at, now()) END,
    updated_at = now()
WHERE (devices.type, devices.commune_code, devices.site_id, devices.parent_id, devices.name,
       devices.lat, devices.lon, devices.interval_s, devices.metadata,
       devices.decommissioned_at IS NOT NULL, devices.observed_by, devices.address,
       devices.checks)
    IS DISTINCT FROM
      (excluded.type, excluded.commune_code, excluded.site_id, excluded.parent_id, excluded.name,
       excluded.lat, excluded.lon, excluded.interval_s, excluded.metadata,
       %(decommissioned)s::boolean, excluded.observed_by, excluded.address, excluded.checks)
RETURNING (xmax = 0) AS inserted
"""
DELETE_PARENTS = (
    "DELETE FROM device_parents WHERE device_id = %(id)s AND NOT parent_id = ANY(%(parents)s)"
)
INSERT_PARENT = """
INSERT INTO device_parents (device_id, parent_id) VALUES (%(id)s, %(parent)s)
ON CONFLICT DO NOTHING
"""


def sync_catalogue(conn: psycopg.Connection) -> None:
    """Copy the Python catalogue into the catalogue tables (idempotent)."""
    with conn.cursor() as cur:
        for t in CATALOGUE:
            cur.execute(
                UPSERT_TYPE, {"type": t.name, "vi": t.vi, "en": t.en, "interval": t.interval_s}
            )
        for m in all_metrics().values():
            cur.execute(
                UPSERT_METRIC,
                {
                    "name": m.name,
                    "unit": m.unit,
                    "kind": m.kind,
                    "vi": m.vi,
                    "en": m.en,
                    "enum": list(m.enum_values) or None,
                },
            )
        for t in CATALOGUE:
            for m in t.metrics:
                cur.execute(LINK_TYPE_METRIC, {"type": t.name, "metric": m.name})


@dataclass
class ImportResult:
    """What an import changed, per kind of object."""

    created: dict[str, int] = field(
        default_factory=lambda: {"communes": 0, "sites": 0, "devices": 0}
    )
    updated: dict[str, int] = field(
        default_factory=lambda: {"communes": 0, "sites": 0, "devices": 0}
    )
    unchanged: dict[str, int] = field(
        default_factory=lambda: {"communes": 0, "sites": 0, "devices": 0}
    )

    def count(self, kind: str, row: tuple[bool] | None) -> None:
        """Record one upsert outcome (no row back means nothing changed)."""
        bucket = self.unchanged if row is None else (self.created if row[0] else self.updated)
        bucket[kind] += 1

    def summary(self) -> str:
        """One human line: created / updated / unchanged per kind."""
        return "; ".join(
            f"{kind}: {self.created[kind]} created, {self.updated[kind]} updated, "
            f"{self.unchanged[kind]} unchanged"
            for kind in ("communes", "sites", "devices")
        )


def import_registry(conn: psycopg.Connection, registry: Registry, source: str = "") -> ImportResult:
    """Upsert a validated registry in one transaction; re-importing changes nothing.

    References to communes, sites or parents that exist in neither the file nor the database
    raise ``RegistryError`` naming the device.
    """
    result = ImportResult()
    problems = _unknown_references(conn, registry, source)
    if problems:
        raise RegistryError(problems)
    try:
        with conn.transaction(), conn.cursor() as cur:
            for commune in registry.communes:
                cur.execute(
                    UPSERT_COMMUNE, commune.model_dump(include={"code", "name", "province"})
                )
                result.count("communes", cur.fetchone())
                for site in commune.sites:
                    cur.execute(UPSERT_SITE, {**site.model_dump(), "commune": commune.code})
                    result.count("sites", cur.fetchone())
            for device in registry.devices:
                parents = device.parents
                cur.execute(
                    UPSERT_DEVICE,
                    {
                        "id": device.id,
                        "type": device.type,
                        "commune": device.commune,
                        "site": device.site,
                        "parent": parents[0] if parents else None,
                        "name": device.name,
                        "lat": device.lat,
                        "lon": device.lon,
                        "interval": device.interval,
                        "metadata": Jsonb(device.metadata),
                        "decommissioned": device.decommissioned,
                        "observed_by": device.collector,
                        "address": device.address,
                        "checks": Jsonb(device.checks),
                    },
                )
                result.count("devices", cur.fetchone())
                cur.execute(DELETE_PARENTS, {"id": device.id, "parents": parents})
                for parent in parents:
                    cur.execute(INSERT_PARENT, {"id": device.id, "parent": parent})
            _check_sites_match(cur)
            _check_collectors(cur, [d.id for d in registry.devices], source)
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    except psycopg.errors.RaiseException as exc:  # the trigger of migration 0700
        raise RegistryError([f"{source}: {exc.diag.message_primary}"]) from exc
    except psycopg.errors.ForeignKeyViolation as exc:
        detail = exc.diag.message_detail or str(exc)
        raise RegistryError([f"{source}: reference to an unknown object: {detail}"]) from exc
    return result


KNOWN_COMMUNES = "SELECT code FROM communes WHERE code = ANY(%(ids)s)"
KNOWN_SITES = "SELECT id, commune_code FROM sites WHERE id = ANY(%(ids)s)"
KNOWN_DEVICES = "SELECT id FROM devices WHERE id = ANY(%(ids)s)"


def _unknown_references(conn: psycopg.Connection, registry: Registry, source: str) -> list[str]:
    """Every reference the file leaves to the database that the database does not have."""
    communes, sites, parents = referenced(registry)
    if not (communes or sites or parents):
        return []
    known_communes = {r[0] for r in conn.execute(KNOWN_COMMUNES, {"ids": sorted(communes)})}
    known_sites: dict[str, str] = dict(conn.execute(KNOWN_SITES, {"ids": sorted(sites)}).fetchall())
    known_devices = {r[0] for r in conn.execute(KNOWN_DEVICES, {"ids": sorted(parents)})}
    return unknown_references(
        registry, source or "<registry>", known_communes, known_sites, known_devices
    )


# A device and the collector that observes it are in the same commune, and the collector is an
# in-service device of type collector: a collector holds the secrets of its own commune only,
# so an admin of another commune must not be able to make it probe (and authenticate to) the
# URLs of their choosing. Also enforced by a constraint trigger (migration 0700).
COLLECTOR_MISMATCH = """
SELECT d.id, d.commune_code, c.id, c.type, c.commune_code, c.decommissioned_at IS NOT NULL
FROM devices d JOIN devices c ON c.id = d.observed_by
WHERE (d.id = ANY(%(ids)s) OR c.id = ANY(%(ids)s)) AND d.decommissioned_at IS NULL
  AND (c.type <> 'collector' OR c.commune_code <> d.commune_code OR c.decommissioned_at IS NOT NULL)
ORDER BY d.id LIMIT 20
"""


def collector_problem(
    device_commune: str, collector: str, ctype: str, commune: str, gone: bool
) -> str | None:
    """Why a device of ``device_commune`` may not be observed by this collector, or None."""
    if ctype != "collector":
        return f"{collector!r} is a {ctype}, not a collector"
    if gone:
        return f"collector {collector!r} is decommissioned"
    if commune != device_commune:
        return (
            f"collector {collector!r} serves commune {commune}, not {device_commune}: a "
            "collector watches only the devices of its own commune"
        )
    return None


def _check_collectors(cur: psycopg.Cursor, ids: list[str], source: str) -> None:
    cur.execute(COLLECTOR_MISMATCH, {"ids": ids})
    errors = []
    for device, device_commune, collector, ctype, commune, gone in cur.fetchall():
        problem = collector_problem(device_commune, collector, ctype, commune, gone)
        if problem:
            errors.append(f"{source or '<registry>'}: device {device!r}.collector: {problem}")
    if errors:
        raise RegistryError(errors)


def _check_sites_match(cur: psycopg.Cursor) -> None:
    cur.execute("""
        SELECT d.id, d.commune_code, s.id, s.commune_code FROM devices d
        JOIN sites s ON s.id = d.site_id WHERE s.commune_code <> d.commune_code LIMIT 20
    """)
    bad = cur.fetchall()
    if bad:
        raise RegistryError(
            [
                f"device {d!r} is in commune {dc} but its site {s!r} is in {sc}"
                for d, dc, s, sc in bad
            ]
        )
