"""SNMP device profiles: which OIDs a device model answers and how they become metrics.

A profile is data, one YAML file beside this module (``if.yaml``, ``ups.yaml``); a PDU or a
router model is a new file, not code. ``{if_index}`` in an OID is the check's ``if_index``.

``values``: one metric per OID, read as a number (clamped to ``min``/``max``, left out when 0
with ``omit_zero``), as ``value == equals`` or as a word from ``labels``; ``missing`` is the
metric when the agent lacks the OID (else it is left out). ``rates``: a counter's change per
second between two polls (``bits`` wide: one wrap is allowed, a big step back is a reset), times
``multiply``, as a percent of another metric (times ``scale``) when ``percent_of`` says so,
capped at ``max``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from collector.checks.base import Value

HERE = Path(__file__).parent
_OID = re.compile(r"^\d+(\.\d+)+$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _oid_ok(template: str) -> None:
    try:
        oid = template.format(if_index=1)
    except (KeyError, IndexError, ValueError):
        raise ValueError(f"OID {template!r}: only {{if_index}} may be filled in") from None
    if not _OID.match(oid):
        raise ValueError(f"OID {template!r} is not numeric (a.b.c...)")


class Reading(_Model):
    """One OID -> one metric."""

    oid: str
    equals: int | None = None
    labels: dict[int, str] | None = None
    default: str | None = None  # the word for a value not in labels
    min: float | None = None
    max: float | None = None
    omit_zero: bool = False
    missing: bool | float | str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Reading:
        _oid_ok(self.oid)
        if self.equals is not None and self.labels is not None:
            raise ValueError("equals and labels exclude each other")
        if self.default is not None and self.labels is None:
            raise ValueError("default needs labels")
        return self

    def read(self, raw: int) -> Value | None:
        """The metric for the agent's value (None: left out)."""
        if self.equals is not None:
            return raw == self.equals
        if self.labels is not None:
            return self.labels.get(raw, self.default or "unknown")
        if self.omit_zero and not raw:
            return None
        number: float = raw
        if self.min is not None:
            number = max(self.min, number)
        if self.max is not None:
            number = min(self.max, number)
        return float(number)


class PercentOf(_Model):
    metric: str
    scale: float = Field(1.0, gt=0)


class Rate(_Model):
    """A counter's rate of change between two polls."""

    counter: str
    bits: Literal[32, 64] = 32
    multiply: float = 1.0
    percent_of: PercentOf | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _oid(self) -> Rate:
        _oid_ok(self.counter)
        return self

    def rate(self, delta: int, dt: float, metrics: dict[str, Value]) -> float | None:
        """The metric for ``delta`` counts over ``dt`` seconds (None: not computable)."""
        value = delta * self.multiply / dt
        if self.percent_of is not None:
            base = metrics.get(self.percent_of.metric)
            if not base or isinstance(base, str):
                return None
            value = value / (float(base) * self.percent_of.scale) * 100
        if self.max is not None:
            value = min(self.max, value)
        return round(value, 3)


class Profile(_Model):
    """What to ask a kind of device and how to read it."""

    name: str = Field(pattern=r"^[a-z0-9_-]{1,40}$")
    default_for: list[str] = []  # device types ("*": every type no other profile claims)
    values: dict[str, Reading] = {}
    rates: dict[str, Rate] = {}

    def oids(self, if_index: int) -> list[str]:
        """Every OID this profile reads, filled in."""
        wanted = [r.oid for r in self.values.values()] + [r.counter for r in self.rates.values()]
        return [oid.format(if_index=if_index) for oid in wanted]


@cache
def profiles() -> dict[str, Profile]:
    """The profiles shipped with the collector, by name."""
    out: dict[str, Profile] = {}
    for path in sorted(HERE.glob("*.yaml")):
        try:
            profile = Profile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (yaml.YAMLError, ValidationError) as exc:
            raise ValueError(f"SNMP profile {path.name}: {exc}") from None
        if profile.name in out:
            raise ValueError(f"SNMP profile {path.name}: name {profile.name!r} used twice")
        out[profile.name] = profile
    return out


def default_for(device_type: str) -> Profile:
    """The profile a device of this type gets when its check names none."""
    known = profiles().values()
    for claim in (device_type, "*"):
        for profile in known:
            if claim in profile.default_for:
                return profile
    raise ValueError(f"no SNMP profile for device type {device_type!r} and no default ('*')")
