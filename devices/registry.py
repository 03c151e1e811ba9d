"""Registry files: the YAML/CSV form of communes, sites and devices, validated strictly.

Errors name the file, the line (YAML) or row (CSV) and the field, e.g.
``demo.yaml:42: devices[3].type: unknown device type 'cam'; known: camera, nvr, speaker, link``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from devices.catalogue import TYPES
from ioc import yamlfile
from ioc.bounds import JsonChecks, JsonObject, NfcStr
from ioc.errors import IocError
from ioc.redact import url_problem
from ioc.secretnames import name_problem, secret_name_fields

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)


class SiteIn(BaseModel):
    """A site (a building, a hamlet's cabinet) of a commune."""

    model_config = STRICT
    id: str = Field(pattern=ID_PATTERN)
    name: NfcStr = Field(min_length=1, max_length=200)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)


class CommuneIn(BaseModel):
    """A commune-level unit, identified by its official 5-digit code."""

    model_config = STRICT
    code: str = Field(pattern=r"^[0-9]{5}$")
    name: NfcStr = Field(min_length=1, max_length=200)
    province: NfcStr = Field("", max_length=200)
    sites: list[SiteIn] = []


class DeviceIn(BaseModel):
    """A monitored device; ``parent`` is one id or a list (cut off only when all are down)."""

    model_config = STRICT
    id: str = Field(pattern=ID_PATTERN)
    type: str
    commune: str = Field(pattern=r"^[0-9]{5}$")
    site: str | None = None
    parent: str | list[str] | None = None
    name: NfcStr = Field(min_length=1, max_length=200)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    interval_s: int | None = Field(None, ge=1, le=86400)
    metadata: JsonObject = {}
    decommissioned: bool = False
    # Edge collector: which collector polls the device, at what address, with which checks
    # (parameters validated by the collector; secrets only by name, e.g. password_env).
    collector: str | None = Field(None, pattern=ID_PATTERN)
    address: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9.:-]{0,252}$")
    checks: JsonChecks = {}

    @field_validator("checks")
    @classmethod
    def _secrets_by_name(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for check, params in value.items():
            for key in _secret_keys(params):
                raise ValueError(
                    f"checks.{check}.{key}: secrets go by name ({key}_env: NAME), "
                    "never as a value in the registry"
                )
            for key, name in secret_name_fields(params):
                problem = name_problem(name)
                if problem:
                    raise ValueError(f"checks.{check}.{key}: {problem}")
            for key, url in _urls(params):
                problem = url_problem(url)
                if problem:
                    raise ValueError(f"checks.{check}.{key}: {problem}")
        return value

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in TYPES:
            raise ValueError(f"unknown device type {value!r}; known: {', '.join(TYPES)}")
        return value

    @property
    def parents(self) -> list[str]:
        """All topology parents, first one primary."""
        if self.parent is None:
            return []
        return [self.parent] if isinstance(self.parent, str) else list(self.parent)

    @property
    def interval(self) -> int:
        """Expected report interval: the device's own or its type's default."""
        return self.interval_s or TYPES[self.type].interval_s


def _urls(params: Any, path: str = "") -> list[tuple[str, str]]:
    """Every string of a check's parameters that is a URL (``scheme://...``)."""
    if isinstance(params, str):
        return [(path.lstrip("."), params)] if URL_LIKE.match(params) else []
    if isinstance(params, dict):
        items: Any = ((f"{path}.{k}", v) for k, v in params.items())
    elif isinstance(params, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(params))
    else:
        return []
    return [found for where, value in items for found in _urls(value, where)]


URL_LIKE = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]*://")
SECRET_WORDS = ("password", "community", "token", "secret", "auth_key", "priv_key", "passphrase")


def _secret_keys(params: Any) -> list[str]:
    """Keys that look like a secret given by value rather than by name (``*_env``)."""
    found: list[str] = []
    if isinstance(params, dict):
        for key, value in params.items():
            secretish = isinstance(key, str) and any(w in key.lower() for w in SECRET_WORDS)
            if secretish and not key.endswith("_env"):
                found.append(key)
            found += _secret_keys(value)
    return found


class RegistryFile(BaseModel):
    """A whole registry document."""

    model_config = STRICT
    communes: list[CommuneIn] = []
    devices: list[DeviceIn] = []


@dataclass
class Registry:
    """A parsed registry document, or the errors that stopped it."""

    communes: list[CommuneIn] = field(default_factory=list)
    devices: list[DeviceIn] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # File line of each item: ("communes" | "devices", index) -> line, for later errors.
    lines: dict[yamlfile.Loc, int] = field(default_factory=dict)


class RegistryError(IocError, ValueError):
    """A registry file could not be read; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def parse_yaml(text: str, source: str = "<yaml>") -> Registry:
    """Validate a YAML registry document; never raises, errors are collected."""
    try:
        doc = yamlfile.parse(text, source)
    except yamlfile.YamlFileError as exc:
        return Registry(errors=[exc.problem])
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        return Registry(errors=[f"{source}:1: expected a mapping with 'communes' and 'devices'"])
    try:
        parsed = RegistryFile.model_validate(data)
    except ValidationError as exc:
        return Registry(errors=doc.problems(exc, depth=2))
    registry = Registry(communes=parsed.communes, devices=parsed.devices, lines=doc.lines)
    registry.errors = check_references(registry, source, doc.lines)
    return registry


CSV_FIELDS = ("id", "type", "commune", "site", "parent", "name", "lat", "lon", "interval_s")


def parse_devices_csv(text: str, source: str = "<csv>") -> Registry:
    """Validate a CSV of devices (header: id,type,commune,site,parent,name,lat,lon,interval_s).

    Several parents are separated by ``;``. Row numbers in errors are file line numbers.
    """
    reader = csv.DictReader(io.StringIO(text, newline=""))
    registry = Registry()
    lines: dict[yamlfile.Loc, int] = {}
    try:
        unknown = set(reader.fieldnames or ()) - set(CSV_FIELDS)
        if unknown:
            return Registry(errors=[f"{source}:1: unknown column(s): {', '.join(sorted(unknown))}"])
        for row in reader:
            line = reader.line_num
            if row.get(None):
                registry.errors.append(f"{source}:{line}: more fields than the header names")
                continue
            data: dict[str, Any] = {k: v for k, v in row.items() if k and v not in (None, "")}
            if "parent" in data:
                parents = [p.strip() for p in data["parent"].split(";") if p.strip()]
                data["parent"] = parents[0] if len(parents) == 1 else parents
            try:
                device = DeviceIn.model_validate(data)
            except ValidationError as exc:
                for err in exc.errors():
                    registry.errors.append(
                        f"{source}:{line}: {yamlfile.path(err['loc'])}: {err['msg']}"
                    )
                continue
            lines[("devices", len(registry.devices))] = line
            registry.devices.append(device)
    except csv.Error as exc:
        registry.errors.append(f"{source}:{reader.line_num}: invalid CSV: {exc}")
        return registry
    registry.lines = lines
    registry.errors += check_references(registry, source, lines)
    return registry


def check_references(
    registry: Registry,
    source: str,
    lines: dict[yamlfile.Loc, int],
    known_sites: dict[str, str] | None = None,
    known_devices: set[str] | None = None,
) -> list[str]:
    """Cross-checks inside one document: duplicates, site/commune agreement, parent cycles.

    References to objects not in the document are left to the database (``known_*`` lets a
    caller that has loaded the database check them here too).
    """
    errors: list[str] = []
    sites = dict(known_sites or {})
    for i, commune in enumerate(registry.communes):
        for site in commune.sites:
            if site.id in sites and sites[site.id] != commune.code:
                line = lines.get(("communes", i))
                errors.append(
                    f"{source}:{line}: communes[{i}].sites: site {site.id!r} "
                    f"already belongs to commune {sites[site.id]}"
                )
            sites[site.id] = commune.code
    seen: set[str] = set()
    ids = {d.id for d in registry.devices} | set(known_devices or ())
    for i, device in enumerate(registry.devices):
        where = f"{source}:{lines.get(('devices', i))}: devices[{i}]"
        if device.id in seen:
            errors.append(f"{where}.id: duplicate device id {device.id!r}")
        seen.add(device.id)
        if device.site and device.site in sites and sites[device.site] != device.commune:
            errors.append(
                f"{where}.site: site {device.site!r} is in commune "
                f"{sites[device.site]}, not {device.commune}"
            )
        for parent in device.parents:
            if parent == device.id:
                errors.append(f"{where}.parent: a device cannot be its own parent")
            elif known_devices is not None and parent not in ids:
                errors.append(f"{where}.parent: unknown device {parent!r}")
    errors += _cycles(registry.devices, source, lines)
    return errors


def _cycles(devices: list[DeviceIn], source: str, lines: dict[yamlfile.Loc, int]) -> list[str]:
    parents = {d.id: d.parents for d in devices}
    index = {d.id: i for i, d in enumerate(devices)}
    errors = []
    done: set[str] = set()
    for start in parents:
        path: list[str] = []
        stack = [(start, iter(parents.get(start, [])))]
        on_path = {start}
        path.append(start)
        while stack:
            node, children = stack[-1]
            nxt = next(children, None)
            if nxt is None:
                stack.pop()
                on_path.discard(node)
                path.pop()
                done.add(node)
                continue
            if nxt in on_path:
                i = index[start]
                cycle = " → ".join([*path[path.index(nxt) :], nxt])
                errors.append(
                    f"{source}:{lines.get(('devices', i))}: devices[{i}].parent: "
                    f"topology cycle {cycle}"
                )
                return errors
            if nxt in done or nxt not in parents:
                continue
            on_path.add(nxt)
            path.append(nxt)
            stack.append((nxt, iter(parents.get(nxt, []))))
    return errors


def load_file(path: Path) -> Registry:
    """Read a registry file by its extension (.yaml/.yml or .csv); raise ``RegistryError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError([f"{path}: cannot read: {exc}"]) from exc
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        registry = parse_yaml(text, str(path))
    elif suffix == ".csv":
        registry = parse_devices_csv(text, str(path))
    else:
        raise RegistryError([f"{path}: unknown file type {suffix!r}; use .yaml, .yml or .csv"])
    if registry.errors:
        raise RegistryError(registry.errors)
    return registry
