"""Bulk registry import, in the format of `ioc devices import`, with a per-row error report."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from fastapi import APIRouter, HTTPException

from api import audit
from api.deps import Admin, ConnDep
from api.models.registry import ImportCounts, ImportReport, RegistryImport
from api.security import Principal
from devices.registry import Registry, RegistryError, parse_devices_csv, parse_yaml
from devices.store import import_registry

router = APIRouter(prefix="/devices", tags=["registry"])

SOURCE = "content"
LINE = re.compile(r"^content(?::(?P<line>\d+))?: (?:(?P<path>[\w\[\].]+): )?(?P<msg>.*)$", re.S)
OUT_OF_SCOPE_DEVICES = """
SELECT id, commune_code FROM devices
WHERE id = ANY(%(ids)s) AND NOT commune_code = ANY(%(scope)s)
"""


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
    if user.scope is None:
        return []
    errors = [
        f"{SOURCE}: communes[{i}].code: commune {c.code} is outside your communes"
        for i, c in enumerate(registry.communes)
        if not user.sees(c.code)
    ]
    errors += [
        f"{SOURCE}: devices[{i}].commune: commune {d.commune} is outside your communes"
        for i, d in enumerate(registry.devices)
        if not user.sees(d.commune)
    ]
    ids = [d.id for d in registry.devices]
    for device_id, _ in conn.execute(OUT_OF_SCOPE_DEVICES, {"ids": ids, "scope": user.scope}):
        errors.append(f"{SOURCE}: devices: device id {device_id!r} is not available to you")
    return errors


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
            result = import_registry(conn, registry, SOURCE)
            if not body.dry_run:
                audit.record(
                    conn,
                    user.name,
                    "import",
                    "registry",
                    "",
                    None,
                    {"summary": result.summary(), "devices": len(registry.devices)},
                )
    except RegistryError as exc:
        raise _report(exc.errors) from None
    return ImportReport(
        dry_run=body.dry_run,
        created=ImportCounts(**result.created),
        updated=ImportCounts(**result.updated),
        unchanged=ImportCounts(**result.unchanged),
    )
