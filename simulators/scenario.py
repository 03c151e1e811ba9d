"""Scenario files: a timeline of faults and the outcome the stack must produce.

Parsing is strict (unknown keys, bad durations, unknown faults are errors) and every error
names the file, the line and the problem, e.g.
``scenarios/uplink_cut.yaml:7: faults[0].fault: unknown fault 'uplink_cutt'; known: ...``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ioc import yamlfile
from ioc.durations import parse_duration
from ioc.errors import IocError
from simulators.faults import KINDS

STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)
Severity = Literal["info", "warning", "critical"]
DataCheckKind = Literal[
    "offline", "online", "metric", "event", "backfill", "quarantine", "status_changes",
    "offline_share",
]  # fmt: skip


class ScenarioError(IocError, ValueError):
    """A scenario file is invalid; ``errors`` are ``file:line: problem`` strings."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def _checked(value: str | float) -> str | float:
    parse_duration(value)
    return value


# A duration as written (30s, 10m, 2h or plain seconds), checked against ioc/durations.py.
DurationText = Annotated[str | float, AfterValidator(_checked)]


def _seconds(value: Any) -> float:
    if value is None:
        return 0.0
    return parse_duration(value).total_seconds()


class FaultStep(BaseModel):
    """One fault on the timeline."""

    model_config = STRICT
    at: DurationText = Field(description="When, after the drill starts (simulated time).")
    fault: str
    target: str = Field(min_length=1)
    duration: DurationText | None = None
    params: dict[str, Any] = {}

    @field_validator("fault")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in KINDS:
            raise ValueError(f"unknown fault {value!r}; known: {', '.join(KINDS)}")
        return value

    @property
    def at_s(self) -> float:
        """Start offset in seconds."""
        return _seconds(self.at)

    @property
    def seconds(self) -> float | None:
        """Length in seconds (the fault kind's default when not given)."""
        if self.duration is None:
            return KINDS[self.fault].default_duration
        return _seconds(self.duration)


class IncidentExpect(BaseModel):
    """An alert that must open (``by``) or resolve (``by``) in time."""

    model_config = STRICT
    device: str
    rule: str | None = None
    severity: Severity | None = None
    by: DurationText = Field(description="Deadline after the drill starts (simulated time).")

    @property
    def by_s(self) -> float:
        """Deadline offset in seconds."""
        return _seconds(self.by)


class SuppressedExpect(BaseModel):
    """Alerts of a device that may exist only as suppressed (or not at all)."""

    model_config = STRICT
    device: str
    rule: str | None = None


class NotificationsExpect(BaseModel):
    """Bounds on the notifications enqueued during the drill."""

    model_config = STRICT
    min: int = Field(0, ge=0)
    max: int | None = Field(None, ge=0)
    kind: str | None = None


class DataCheck(BaseModel):
    """Something the data must show (used when no alert engine runs, or in addition)."""

    model_config = STRICT
    check: DataCheckKind
    device: str | None = None
    target: str | None = None
    metric: str | None = None
    value: float | str | bool | None = None
    below: float | None = None
    above: float | None = None
    event: str | None = None
    data: dict[str, Any] = {}
    min: float = Field(1, ge=0)

    @model_validator(mode="after")
    def _fields(self) -> DataCheck:
        needs = {
            "offline": ("device",), "online": ("device",), "backfill": ("device",),
            "metric": ("device", "metric"), "event": ("device", "event"),
            "status_changes": ("device",), "offline_share": ("target",), "quarantine": (),
        }[self.check]  # fmt: skip
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"check {self.check!r} needs {', '.join(missing)}")
        if (
            self.check == "metric"
            and self.value is None
            and self.below is None
            and self.above is None
        ):
            raise ValueError("check 'metric' needs value, below or above")
        return self


class Expect(BaseModel):
    """The outcome of a drill."""

    model_config = STRICT
    mode: Literal["auto", "alerts", "data"] = "auto"
    incidents: list[IncidentExpect] = []
    suppressed: list[SuppressedExpect] = []
    resolved: list[IncidentExpect] = []
    notifications: NotificationsExpect | None = None
    data: list[DataCheck] | None = None


class Scenario(BaseModel):
    """A whole scenario file."""

    model_config = STRICT
    name: str = Field(min_length=1)
    description: str = ""
    registry: str = "demo"
    seed: int = 1
    speed: float = Field(1.0, gt=0)
    fault_rate: float = Field(0.0, ge=0)
    # Simulated local time of day the drill starts at (broadcasts at 06:00 and 17:00 depend
    # on it): fixed, so a scenario and seed give the same outcome whatever the hour it runs.
    start: str = Field("09:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    duration: DurationText | None = None
    faults: list[FaultStep] = Field(min_length=1)
    expect: Expect = Expect()

    @property
    def duration_s(self) -> float:
        """Simulated run length: given, or until the last fault ends / deadline passes + 2m."""
        if self.duration is not None:
            return _seconds(self.duration)
        ends = [f.at_s + (f.seconds or 0) for f in self.faults]
        ends += [e.by_s for e in (*self.expect.incidents, *self.expect.resolved)]
        return max(ends) + 120


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate a scenario document; ``ScenarioError`` lists every problem with its line."""
    try:
        doc = yamlfile.parse(text, source)
    except yamlfile.YamlFileError as exc:
        raise ScenarioError([exc.problem]) from exc
    if not isinstance(doc.data, dict):
        raise ScenarioError([f"{source}:1: expected a mapping with name, faults and expect"])
    try:
        return Scenario.model_validate(doc.data)
    except ValidationError as exc:
        raise ScenarioError(doc.problems(exc, bare=True)) from None


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: cannot read: {exc}"]) from exc
    return parse_scenario(text, str(path))
