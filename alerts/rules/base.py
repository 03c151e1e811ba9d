"""The rule kinds' common base: shared fields, the evaluation context, and a condition row.

Every kind evaluates the whole fleet in one SQL query per tick and returns the devices whose
condition holds (``fire``) or still holds under the clear threshold (``fire`` false).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, Protocol

import psycopg
from pydantic import BaseModel, ConfigDict, Field, field_validator

from alerts.texts import DEVICE_PLACEHOLDERS, template_fields
from devices.catalogue import TYPES
from ioc.durations import format_duration, parse_duration

Severity = Literal["info", "warning", "critical"]
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class EvalContext:
    """What every rule needs to know about this tick."""

    now: datetime
    offline_factor: float
    # Latest monitoring-pipeline outage: silence inside it is not the devices' fault.
    blind_start: datetime | None = None
    blind_end: datetime | None = None
    # Silent parents whose children went offline after them (alerts/holds.py: presumed_down).
    presumed_down: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Condition:
    """One device for which a rule's condition holds now."""

    device_id: str | None
    value: float | None
    fire: bool  # the firing condition holds (not only the hysteresis hold)
    severity: str | None = None  # overrides the rule's severity (event severity maps)
    details: dict[str, Any] = field(default_factory=dict)


class AlertRule(Protocol):
    """What the lifecycle needs from a rule (YAML rules and built-in ones)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def severity(self) -> Any: ...
    @property
    def for_(self) -> timedelta: ...

    def fingerprint(self, cond: Condition) -> str: ...
    def texts(self) -> Texts: ...
    def template_vars(self, cond: Condition) -> dict[str, Any]: ...
    def annotations(self, cond: Condition) -> dict[str, Any]: ...


class Texts(BaseModel):
    """A text in Vietnamese and English; ``{placeholders}`` are filled per alert."""

    model_config = ConfigDict(extra="forbid")

    vi: str
    en: str


class RuleBase(BaseModel):
    """Fields every rule kind has."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)

    kind: str
    name: str
    types: list[str] = Field(min_length=1)
    severity: Severity = "warning"
    for_: timedelta = Field(timedelta(0), alias="for")
    summary: Texts | None = None
    # "Cách xử lý": what a technician checks first (shown on the alert page).
    runbook: Texts | None = None
    enabled: bool = True

    default_summary: ClassVar[Texts]
    # Placeholders this kind adds to the device ones (see ``template_vars``); event data
    # fields come as ``data_<key>``.
    placeholders: ClassVar[frozenset[str]] = frozenset()
    placeholder_prefixes: ClassVar[tuple[str, ...]] = ()

    @field_validator("summary")
    @classmethod
    def _known_placeholders(cls, value: Texts | None) -> Texts | None:
        if value is None:
            return value
        known = DEVICE_PLACEHOLDERS | {"for"} | cls.placeholders
        problems = []
        for lang in ("vi", "en"):
            try:
                names = template_fields(getattr(value, lang))
            except ValueError as exc:
                problems.append(f"summary.{lang}: bad template: {exc}")
                continue
            unknown = [
                n for n in names if n not in known and not n.startswith(cls.placeholder_prefixes)
            ]
            if unknown:
                listed = ", ".join("{" + n + "}" for n in unknown)
                problems.append(f"summary.{lang}: unknown placeholder {listed}")
        if problems:
            allowed = ", ".join("{" + k + "}" for k in sorted(known))
            allowed += "".join(", {" + p + "...}" for p in cls.placeholder_prefixes)
            raise ValueError("; ".join(problems) + f" (known: {allowed})")
        return value

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError("use lowercase letters, digits and '_', starting with a letter")
        return value

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = [t for t in value if t not in TYPES]
        if unknown:
            raise ValueError(f"unknown device type(s) {unknown}; known: {sorted(TYPES)}")
        return value

    @field_validator("for_", mode="before")
    @classmethod
    def _duration(cls, value: object) -> timedelta:
        return parse_duration(value)

    def evaluate(self, conn: psycopg.Connection, ctx: EvalContext) -> list[Condition]:
        """Conditions holding now for the whole fleet (one query)."""
        raise NotImplementedError

    def fingerprint(self, cond: Condition) -> str:
        """Identity of the alert a condition belongs to."""
        base = f"{self.name}:{cond.device_id or '*'}"
        return f"{base}:{cond.severity}" if cond.severity else base

    def texts(self) -> Texts:
        """Summary templates: the rule's own or its kind's default."""
        return self.summary or self.default_summary

    def template_vars(self, cond: Condition) -> dict[str, Any]:
        """Placeholders this rule adds for its summaries."""
        return {"for": format_duration(self.for_), **cond.details}

    def annotations(self, cond: Condition) -> dict[str, Any]:
        """Machine-readable facts stored with the alert (and the rule's runbook)."""
        facts: dict[str, Any] = {"kind": self.kind, **cond.details}
        if self.runbook is not None:
            facts["runbook"] = self.runbook.model_dump()
        return facts


def fmt_number(value: float | None) -> str:
    """A value for humans: integers without decimals, others with up to two."""
    if value is None:
        return "?"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")
