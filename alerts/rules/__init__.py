"""Alert rules: one module per rule kind, loaded from a strictly validated YAML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alerts.inhibit_rules import InhibitRule
from alerts.rules.absence import AbsenceRule
from alerts.rules.base import Condition, EvalContext, RuleBase
from alerts.rules.event import EventRule
from alerts.rules.flapping import FlappingRule
from alerts.rules.seq_gaps import SeqGapRule
from alerts.rules.threshold import StateRule, ThresholdRule
from ioc import yamlfile
from ioc.errors import ConfigError

Rule = Annotated[
    ThresholdRule | StateRule | AbsenceRule | EventRule | FlappingRule | SeqGapRule,
    Field(discriminator="kind"),
]
RESERVED = {"pipeline_down"}
_KIND_TAGS = {"threshold", "state", "absence", "event", "flapping", "seq_gaps"}

__all__ = [
    "Condition",
    "EvalContext",
    "InhibitRule",
    "Rule",
    "RuleBase",
    "RulesFile",
    "load_rules",
    "load_rules_file",
    "parse_rules",
    "parse_rules_file",
]


class RulesFile(BaseModel):
    """The rules YAML: ``rules: [{name, kind, types, ...}, ...]``, ``inhibit_rules: [...]``."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Rule]
    inhibit_rules: list[InhibitRule] = []

    @model_validator(mode="after")
    def _unique(self) -> RulesFile:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen or rule.name in RESERVED:
                raise ValueError(f"rule name {rule.name!r} is used twice or reserved")
            seen.add(rule.name)
        names = [r.name for r in self.inhibit_rules]
        if len(names) != len(set(names)):
            raise ValueError("inhibit rule names must be unique")
        return self


def _where(data: Any, loc: tuple[int | str, ...]) -> str:
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        index = loc[1]
        raw = data["rules"][index] if isinstance(data, dict) else {}
        name = raw.get("name", "?") if isinstance(raw, dict) else "?"
        fields = [str(p) for p in loc[2:] if p not in _KIND_TAGS]
        field = ".".join(fields) or "(rule)"
        return f"rule #{index + 1} {name!r}, field {field!r}"
    if len(loc) >= 2 and loc[0] == "inhibit_rules" and isinstance(loc[1], int):
        field = ".".join(str(p) for p in loc[2:]) or "(rule)"
        return f"inhibit rule #{loc[1] + 1}, field {field!r}"
    return "field " + ".".join(str(p) for p in loc) if loc else "file"


def _untagged(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    return tuple(p for p in loc if p not in _KIND_TAGS)


def parse_rules_file(text: str, source: str = "<rules>") -> RulesFile:
    """Parse and validate rules YAML; ConfigError lists every problem by rule and field."""
    doc = yamlfile.parse(text, source)
    try:
        parsed = RulesFile.model_validate(doc.data)
    except ValidationError as exc:
        problems = [
            f"{source}:{doc.line(_untagged(e['loc'])) or 1}: {_where(doc.data, e['loc'])}: "
            f"{str(e['msg']).removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        raise ConfigError(f"{source}: invalid rules:\n  " + "\n  ".join(problems)) from None
    return parsed


def parse_rules(text: str, source: str = "<rules>") -> list[RuleBase]:
    """The enabled alert rules of a rules YAML (see ``parse_rules_file``)."""
    return [rule for rule in parse_rules_file(text, source).rules if rule.enabled]


def load_rules_file(path: Path) -> RulesFile:
    """Load the rules file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read rules file {path}: {exc}") from exc
    return parse_rules_file(text, str(path))


def load_rules(path: Path) -> list[RuleBase]:
    """The enabled alert rules of the rules file at ``path``."""
    return [rule for rule in load_rules_file(path).rules if rule.enabled]
