"""The collector's inventory: the registry format plus, per device, ``address``, ``checks`` and
``collector``; validated strictly, errors with file, line and field, nothing half-applied.

    devices:
      - {id: ts-uplink, type: link, commune: "21025", address: 127.0.0.1, collector: col-1,
         checks: {ping: {}, snmp: {port: 10161, community_env: SNMP_COMMUNITY, if_index: 1}}}

Check parameters are validated by each check's own ``Params`` model. Secrets appear only by
name (``community_env``, ``password_env``, ...); their values never enter the inventory.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from collector.checks.base import CheckParams, Target
from collector.registry import REGISTRY
from devices.registry import (
    CommuneIn,
    DeviceIn,
    Registry,
    RegistryError,
    check_references,
)
from ioc import yamlfile


class ObservedDeviceIn(DeviceIn):
    """A registry device with what the collector needs to watch it."""

    name: str = Field("", max_length=200)  # optional here: defaults to the id

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        unknown = sorted(set(value) - set(REGISTRY))
        if unknown:
            raise ValueError(
                f"unknown check(s) {', '.join(unknown)}; known: {', '.join(sorted(REGISTRY))}"
            )
        return value


class InventoryFile(BaseModel):
    """A whole inventory document (the registry document with observed devices)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)
    communes: list[CommuneIn] = []
    devices: list[ObservedDeviceIn] = []


@dataclass(frozen=True)
class PlannedCheck:
    """One check of one device, parameters validated."""

    name: str
    params: CheckParams


@dataclass(frozen=True)
class WatchedDevice:
    """A device this collector polls."""

    target: Target
    checks: tuple[PlannedCheck, ...]
    parents: tuple[str, ...] = ()


@dataclass
class Inventory:
    """A validated inventory: every device, and the ones a given collector watches."""

    communes: list[CommuneIn] = field(default_factory=list)
    devices: list[ObservedDeviceIn] = field(default_factory=list)
    planned: dict[str, WatchedDevice] = field(default_factory=dict)

    def watched_by(self, collector_id: str | None) -> list[WatchedDevice]:
        """Devices with checks that ``collector_id`` watches (all with checks when None)."""
        by_id = {d.id: d for d in self.devices}
        return [
            w
            for device_id, w in self.planned.items()
            if collector_id is None or by_id[device_id].collector in (collector_id, None)
        ]

    def registry(self) -> Registry:
        """The plain registry part (for `ioc devices import`)."""
        plain = [
            DeviceIn.model_validate(d.model_dump() | {"name": d.name or d.id}) for d in self.devices
        ]
        return Registry(communes=self.communes, devices=plain)


def _plan(device: ObservedDeviceIn, where: str, errors: list[str]) -> WatchedDevice | None:
    if not device.checks:
        return None
    if not device.address:
        errors.append(f"{where}.address: a device with checks needs an address")
        return None
    planned = []
    for name, raw in device.checks.items():
        try:
            params = REGISTRY[name].Params.model_validate(raw or {})
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                errors.append(f"{where}.checks.{name}{_field(err['loc'])}: {err['msg']}")
            continue
        planned.append(PlannedCheck(name, params))
    target = Target(
        device_id=device.id,
        type=device.type,
        commune=device.commune,
        address=device.address,
        interval_s=float(device.interval),
    )
    return WatchedDevice(target, tuple(planned), tuple(device.parents))


def _field(loc: tuple[int | str, ...]) -> str:
    text = yamlfile.path(loc)
    return ("." + text) if text and not text.startswith("[") else text


def parse_inventory(text: str, source: str = "<inventory>") -> Inventory:
    """Validate an inventory document (YAML or JSON); raise ``RegistryError`` listing every
    problem with its file, line and field."""
    try:
        doc = yamlfile.parse(text, source)
    except yamlfile.YamlFileError as exc:
        raise RegistryError([exc.problem]) from None
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise RegistryError([f"{source}:1: expected a mapping with 'communes' and 'devices'"])
    lines = doc.lines
    try:
        parsed = InventoryFile.model_validate(data)
    except RecursionError:
        raise RegistryError([f"{source}: the document is nested too deeply"]) from None
    except ValidationError as exc:
        raise RegistryError(doc.problems(exc, depth=2)) from None
    inventory = Inventory(communes=parsed.communes, devices=parsed.devices)
    errors = check_references(inventory.registry(), source, lines)
    types = {d.id: d.type for d in parsed.devices}
    for i, device in enumerate(parsed.devices):
        where = f"{source}:{lines.get(('devices', i), 1)}: devices[{i}]"
        if device.collector and types.get(device.collector, "collector") != "collector":
            errors.append(
                f"{where}.collector: {device.collector!r} is a {types[device.collector]}, "
                "not a collector"
            )
        if device.address:
            _check_address(device.address, where, errors)
        watched = _plan(device, where, errors)
        if watched is not None:
            inventory.planned[device.id] = watched
    if errors:
        raise RegistryError(errors)
    return inventory


def _check_address(address: str, where: str, errors: list[str]) -> None:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        if address.replace(".", "").replace("-", "").isdigit():
            errors.append(f"{where}.address: not an IP address or host name: {address!r}")


def load_inventory(path: Path) -> Inventory:
    """Read and validate an inventory file; raise ``RegistryError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError([f"{path}: cannot read: {exc}"]) from exc
    return parse_inventory(text, str(path))
