"""Declarative JSON → metrics mapping, shared by the ``http_json`` poll and the webhook receiver.

    metrics:
      rsrp_dbm: {path: "status.lte.rsrp"}
      state:    {path: "status.mode", map: {"0": idle, "1": playing, "9": emergency}}
      mains_ok: {path: "power.ac", map: {"on": true, "off": false}}
      battery_v: {path: "power.battery_mv", scale: 0.001}

A path is dot-separated keys with ``[n]`` list indexes (``channels[0].fps``). A missing path
skips that metric; a present value that cannot be mapped fails the whole answer (one reason).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from collector.checks.base import CheckError, EventOut, Sample

Value = float | bool | str
PATH = r"^[A-Za-z0-9_$@-]+(\[[0-9]+\])*(\.[A-Za-z0-9_$@-]+(\[[0-9]+\])*)*$"
_PART = re.compile(r"([^.\[\]]+)|\[([0-9]+)\]")


class MetricMap(BaseModel):
    """Where one metric is in the answer and how to turn it into our value."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)
    path: str = Field(pattern=PATH, max_length=200)
    map: dict[str, Value] | None = None  # raw value (as text) → metric value
    scale: float = 1.0


class EventMap(BaseModel):
    """An event in the answer: when ``path`` equals ``when``, emit ``type``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)
    path: str = Field(pattern=PATH, max_length=200)
    when: Value
    type: str = Field(min_length=1, max_length=64)
    severity: str | None = Field(None, pattern="^(info|warning|critical)$")


def lookup(doc: Any, path: str) -> tuple[bool, Any]:
    """(found, value) at ``path`` in a decoded JSON document."""
    node = doc
    for key, index in _PART.findall(path):
        if key:
            if not isinstance(node, dict) or key not in node:
                return False, None
            node = node[key]
        else:
            i = int(index)
            if not isinstance(node, list) or i >= len(node):
                return False, None
            node = node[i]
    return True, node


def _text(raw: Any) -> str:
    if raw is True or raw is False:
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def map_value(name: str, spec: MetricMap, raw: Any) -> Value:
    """One metric's value from its raw JSON value."""
    if spec.map is not None:
        key = _text(raw)
        if key not in spec.map:
            known = ", ".join(list(spec.map)[:10])
            # Not the value itself: errors never quote what the device answered.
            raise CheckError(
                f"{name}: a value of {len(key)} characters not in its map ({known})", kind="parse"
            )
        return spec.map[key]
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float):
        return float(raw) * spec.scale
    if isinstance(raw, str):
        try:
            return float(raw) * spec.scale
        except ValueError:
            return raw
    raise CheckError(
        f"{name}: expected a number or text at {spec.path}, got JSON {type(raw).__name__}",
        kind="parse",
    )


def apply(doc: Any, metrics: dict[str, MetricMap], events: list[EventMap]) -> Sample:
    """A sample from a decoded answer; at least one mapped metric or event must be present."""
    sample = Sample()
    for name, spec in metrics.items():
        found, raw = lookup(doc, spec.path)
        if found and raw is not None:
            sample.metrics[name] = map_value(name, spec, raw)
    for ev in events:
        found, raw = lookup(doc, ev.path)
        if found and _text(raw) == _text(ev.when):
            sample.events.append(EventOut(ev.type, ev.severity, {"path": ev.path}))  # type: ignore[arg-type]
    if not sample.metrics and not sample.events:
        paths = ", ".join(s.path for s in metrics.values())[:200]
        raise CheckError(f"none of the mapped paths is in the answer ({paths})", kind="parse")
    return sample
