"""References a registry file leaves to the database: every missing one, with its file line."""

from __future__ import annotations

from devices.registry import Registry


def referenced(registry: Registry) -> tuple[set[str], set[str], set[str]]:
    """Communes, sites and parent devices the devices refer to that the file does not define."""
    communes = {d.commune for d in registry.devices} - {c.code for c in registry.communes}
    sites = {d.site for d in registry.devices if d.site} - {
        s.id for c in registry.communes for s in c.sites
    }
    parents = {p for d in registry.devices for p in d.parents} - {d.id for d in registry.devices}
    return communes, sites, parents


def unknown_references(
    registry: Registry,
    source: str,
    communes: set[str],
    sites: dict[str, str],
    devices: set[str],
) -> list[str]:
    """Every reference to a commune, site or parent in neither the file nor the database
    (``communes``, ``sites`` (id -> commune) and ``devices``: what the database has)."""
    known_communes = communes | {c.code for c in registry.communes}
    in_file = {s.id: c.code for c in registry.communes for s in c.sites}
    known_sites = {**sites, **in_file}
    ids = devices | {d.id for d in registry.devices}
    errors = []
    for i, device in enumerate(registry.devices):
        where = f"{source}:{registry.lines.get(('devices', i), '?')}: devices[{i}]"
        if device.commune not in known_communes:
            errors.append(
                f"{where}.commune: unknown commune {device.commune!r} "
                "(not in this file nor in the database)"
            )
        if device.site and device.site not in known_sites:
            errors.append(
                f"{where}.site: unknown site {device.site!r} (not in this file nor in the database)"
            )
        elif device.site and device.site not in in_file and sites[device.site] != device.commune:
            errors.append(
                f"{where}.site: site {device.site!r} is in commune "
                f"{known_sites[device.site]}, not {device.commune}"
            )
        for parent in device.parents:
            if parent not in ids:
                errors.append(
                    f"{where}.parent: unknown device {parent!r} "
                    "(not in this file nor in the database)"
                )
    return errors
