"""Bulk registry import, in the format of `ioc devices import`, with a per-row error report."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from fastapi import APIRouter, HTTPException

from api import audit
from api.deps import Admin, ConnDep
from api.models.registry import ImportCounts, ImportReport, RegistryImport
from api.scope import commune_problem, outside, parents_problem, stored_communes
from api.security import Principal
from devices.registry import Registry, RegistryError, parse_devices_csv, parse_yaml
from devices.store import import_registry

router = APIRouter(prefix="/devices", tags=["registry"])

SOURCE = "content"
LINE = re.compile(r"^content(?::(?P<line>\d+))?: (?:(?P<path>[\w\[\].]+): )?(?P<msg>.*)$", re.S)


def _report(errors: list[str]) -> HTTPException:
    """422 with one entry per problem: its line (when known), location and message."""
    detail: list[dict[str, Any]] = []
    for error in errors:
        match = LINE.match(error)
        entry: dict[str, Any] = {"loc": ["body", "content"], "msg": error, "type": "registry"}
        if match:
            if match["path"]:
                entry["loc"] = ["body", "content", *re.split(r"[.\[\]]+", match["path"].strip("]"))]
            entry["msg"] = match["msg"]
            if match["line"]:
                entry["line"] = int(match["line"])
        detail.append(entry)
    return HTTPException(422, detail)


def _scope_errors(conn: psycopg.Connection, user: Principal, registry: Registry) -> list[str]:
    """The routes' scope checks (api/scope.py), applied to every object of the document."""
    if user.scope is None:
        return []
    errors = []
    for i, c in enumerate(registry.communes):
        problem = commune_problem(user, c.code)
        if problem:
            errors.append(f"{SOURCE}: communes[{i}].code: {problem}")
    for i, d in enumerate(registry.devices):
        problem = commune_problem(user, d.commune)
        if problem:
            errors.append(f"{SOURCE}: devices[{i}].commune: {problem}")
    device_ids = [d.id for d in registry.devices]
    site_ids = [s.id for c in registry.communes for s in c.sites]
    devices, sites = stored_communes(conn, device_ids, site_ids)
    for site_id, _ in outside(user, sites):
        errors.append(f"{SOURCE}: sites: site id {site_id!r} is not available to you")
    for device_id, _ in outside(user, devices):
        errors.append(f"{SOURCE}: devices: device id {device_id!r} is not available to you")
    # A collector named by a device must be one the caller sees (and, checked on import for
    # every caller, of the device's commune: devices/store.py).
    in_doc = {d.id: d.commune for d in registry.devices}
    stored_collectors, _ = stored_communes(
        conn, [d.collector for d in registry.devices if d.collector], []
    )
    for i, d in enumerate(registry.devices):
        if d.collector:
            commune = in_doc.get(d.collector, stored_collectors.get(d.collector))
            if commune is None or not user.sees(commune):
                errors.append(
                    f"{SOURCE}: devices[{i}].collector: collector {d.collector!r} is not "
                    "available to you"
                )
    for i, d in enumerate(registry.devices):
        problem = parents_problem(conn, user, d.id, d.parents, device_ids, cycles=False)
        if problem:
            errors.append(f"{SOURCE}: devices[{i}].parent: {problem}")
    return errors


def _touched(conn: psycopg.Connection, registry: Registry) -> list[str]:
    """Communes an import writes in: those it names and those its objects are moved from."""
    device_ids = [d.id for d in registry.devices]
    site_ids = [s.id for c in registry.communes for s in c.sites]
    devices, sites = stored_communes(conn, device_ids, site_ids)
    named = {c.code for c in registry.communes} | {d.commune for d in registry.devices}
    return sorted(named | set(devices.values()) | set(sites.values()))


@router.post(
    "/import",
    response_model=ImportReport,
    responses={422: {"description": "The document has errors; nothing was changed"}},
)
def import_devices(conn: ConnDep, user: Admin, body: RegistryImport) -> ImportReport:
    """Create or update communes, sites and devices from a registry document (admin).

    All or nothing: any error (reported per row, with its line) changes nothing.
    """
    parse = parse_yaml if body.format == "yaml" else parse_devices_csv
    registry = parse(body.content, SOURCE)
    errors = registry.errors or _scope_errors(conn, user, registry)
    if errors:
        raise _report(errors)
    try:
        with conn.transaction(force_rollback=body.dry_run):
            touched = _touched(conn, registry)
            result = import_registry(conn, registry, SOURCE)
            details = {
                "summary": result.summary(),
                "devices": len(registry.devices),
                "communes": touched,
            }
            # One entry per commune written in, so each commune's (scoped) admins see it.
            for commune in touched if not body.dry_run else ():
                audit.record(conn, user.name, "import", "registry", "", commune, details)
    except RegistryError as exc:
        raise _report(exc.errors) from None
    return ImportReport(
        dry_run=body.dry_run,
        created=ImportCounts(**result.created),
        updated=ImportCounts(**result.updated),
        unchanged=ImportCounts(**result.unchanged),
    )
