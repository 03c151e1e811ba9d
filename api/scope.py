"""Commune-scope checks on registry writes, shared by the REST routes and the bulk import.

Each check returns the problems it finds as messages (empty: allowed); the routes turn the
first into a 422 on the field, the import reports them all with their place in the document.
One implementation, so a scoped admin can do through an import exactly what the routes allow.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from api.security import Principal

VISIBLE_DEVICES = """
SELECT id FROM devices
WHERE id = ANY(%(ids)s) AND (%(scope)s::text[] IS NULL OR commune_code = ANY(%(scope)s))
"""
DESCENDANT_OF = """
WITH RECURSIVE up AS (
    SELECT parent_id FROM device_parents WHERE device_id = ANY(%(parents)s)
    UNION SELECT p.parent_id FROM device_parents p JOIN up ON p.device_id = up.parent_id
)
SELECT 1 FROM up WHERE parent_id = %(id)s LIMIT 1
"""
SITE_COMMUNE = "SELECT commune_code FROM sites WHERE id = %(id)s"
COMMUNES_OF_DEVICES = "SELECT id, commune_code FROM devices WHERE id = ANY(%(ids)s)"
COMMUNES_OF_SITES = "SELECT id, commune_code FROM sites WHERE id = ANY(%(ids)s)"


def commune_problem(user: Principal, commune: str) -> str | None:
    """Whether ``user`` may write in ``commune``."""
    return None if user.sees(commune) else f"commune {commune} is outside your communes"


def site_problem(conn: psycopg.Connection, site_id: str | None, commune: str) -> str | None:
    """A device of ``commune`` may only sit at a site of that commune."""
    if site_id is None:
        return None
    row = conn.execute(SITE_COMMUNE, {"id": site_id}).fetchone()
    if row is None or row[0] != commune:
        return f"no site {site_id} in commune {commune}"
    return None


def parents_problem(
    conn: psycopg.Connection,
    user: Principal,
    device_id: str,
    parents: list[str],
    pending: Iterable[str] = (),
    *,
    cycles: bool = True,
) -> str | None:
    """Parents must be other, distinct devices the caller sees, making no topology cycle.

    ``pending`` are ids written in the same request (an import's own devices, whose cycles the
    import checks on the whole document: ``cycles=False``).
    """
    if device_id in parents:
        return "a device cannot be its own parent"
    if len(set(parents)) != len(parents):
        return "parents repeat a device"
    new = set(pending)
    stored = [p for p in parents if p not in new]
    found = {r[0] for r in conn.execute(VISIBLE_DEVICES, {"ids": stored, "scope": user.scope})}
    missing = [p for p in stored if p not in found]
    if missing:
        return f"unknown device(s): {', '.join(missing)}"
    if (
        cycles
        and stored
        and conn.execute(DESCENDANT_OF, {"parents": stored, "id": device_id}).fetchone()
    ):
        return "these parents would make a topology cycle"
    return None


def stored_communes(
    conn: psycopg.Connection, devices: Iterable[str], sites: Iterable[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Current commune of each existing device and site among these ids."""
    dev: dict[str, str] = dict(conn.execute(COMMUNES_OF_DEVICES, {"ids": list(devices)}).fetchall())
    sit: dict[str, str] = dict(conn.execute(COMMUNES_OF_SITES, {"ids": list(sites)}).fetchall())
    return dev, sit


def outside(user: Principal, stored: dict[str, str]) -> list[tuple[str, str]]:
    """(id, commune) of the stored objects the caller may not change."""
    return [(key, commune) for key, commune in stored.items() if not user.sees(commune)]
