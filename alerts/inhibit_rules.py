"""Inhibit rules in Alertmanager's form: one real cause explains the other alerts it brings.

```yaml
inhibit_rules:
  - name: camera_no_video
    source_matchers: ['type="camera"', 'rule=~"camera_video_loss_event|camera_video_loss"']
    target_matchers: ['rule=~"camera_stream_down|camera_fps_low|camera_bitrate_low"']
    equal: [device]
```

A firing alert matching ``source_matchers`` inhibits every open alert matching
``target_matchers`` whose ``equal`` labels have the same values (never itself). Labels are the
alert's (``commune site device type rule severity``) plus ``channel`` (the channel of the
event behind it, e.g. an NVR's video-loss input) and ``camera`` (a camera alert's device; an
NVR alert's camera on that channel, from the camera's ``metadata: {nvr, nvr_channel}``).

Unlike Alertmanager, inhibited alerts stay visible: their ``suppressed_by`` names the alert that
explains them (the top of the chain, so the console folds them one level under it) and they are
never notified on their own. When two alerts would inhibit each other (an NVR's video loss and
its camera's, whichever comes first), the one that fired first explains the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import psycopg
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ioc.ops.matchers import Matcher, cheap_first, match_all

if TYPE_CHECKING:  # the rules file's model loads before the lifecycle
    from alerts.lifecycle import OpenAlert

# Cameras recorded on an NVR channel: (nvr id, channel) → camera id.
CHANNELS_SQL = """
SELECT metadata ->> 'nvr', metadata ->> 'nvr_channel', id FROM devices
WHERE type = 'camera' AND decommissioned_at IS NULL
  AND metadata ? 'nvr' AND metadata ? 'nvr_channel'
"""
LABELS = frozenset({"commune", "site", "device", "type", "rule", "severity", "channel", "camera"})


class InhibitRule(BaseModel):
    """One inhibit rule of the rules file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    source_matchers: list[Matcher] = Field(min_length=1)
    target_matchers: list[Matcher] = Field(min_length=1)
    equal: list[str] = Field(default_factory=list)

    @field_validator("equal")
    @classmethod
    def _known_labels(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in LABELS]
        if unknown:
            raise ValueError(f"unknown label(s) {unknown}; known: {sorted(LABELS)}")
        return value


def _channel(value: str | None) -> str:
    """Channel ids as numbers where they are ("02" and "2" are one input)."""
    text = (value or "").strip()
    return str(int(text)) if text.isdigit() else text


def channel_map(conn: psycopg.Connection) -> dict[tuple[str, str], str]:
    """(nvr, channel) → the camera recorded there, from the cameras' metadata."""
    return {(nvr, _channel(ch)): cam for nvr, ch, cam in conn.execute(CHANNELS_SQL)}


def labels_of(alert: OpenAlert, channels: Mapping[tuple[str, str], str]) -> dict[str, str]:
    """The alert's labels plus ``channel`` and ``camera``."""
    labels = alert.labels
    channel = _channel(alert.channel)
    labels["channel"] = channel
    if alert.device_type == "camera":
        labels["camera"] = alert.device_id or ""
    elif channel:
        labels["camera"] = channels.get((alert.device_id or "", channel), "")
    else:
        labels["camera"] = ""
    return labels


@dataclass
class Inhibition:
    """Which open alert explains which (target id → (top source id, rule name))."""

    by: dict[int, tuple[int, str]]

    def source_of(self, alert_id: int) -> int | None:
        """The alert that explains ``alert_id`` (None: not inhibited)."""
        found = self.by.get(alert_id)
        return found[0] if found else None

    def rule_of(self, alert_id: int) -> str | None:
        """The inhibit rule that folds ``alert_id``."""
        found = self.by.get(alert_id)
        return found[1] if found else None


def _age(alert: OpenAlert) -> tuple[datetime, int]:
    """Older = fired first (a pending alert has not been seen by anyone yet)."""
    return (alert.fired_at or datetime.max.replace(tzinfo=UTC), alert.id)


def _pairs(
    rules: Iterable[InhibitRule],
    alerts: list[OpenAlert],
    labels: Mapping[int, Mapping[str, str]],
    exempt: frozenset[int],
) -> dict[int, dict[int, str]]:
    """target id → {source id: rule name} for every pair some rule matches."""
    sources: dict[int, dict[int, str]] = {}
    for rule in rules:
        src, tgt = cheap_first(rule.source_matchers), cheap_first(rule.target_matchers)
        candidates: dict[tuple[str, ...], list[OpenAlert]] = {}
        for a in alerts:
            if a.state == "firing" and a.id not in exempt and match_all(src, labels[a.id]):
                key = tuple(labels[a.id].get(k, "") for k in rule.equal)
                candidates.setdefault(key, []).append(a)
        if not candidates:
            continue
        for target in alerts:
            if target.id in exempt or not match_all(tgt, labels[target.id]):
                continue
            key = tuple(labels[target.id].get(k, "") for k in rule.equal)
            for source in candidates.get(key, ()):
                if source.id != target.id:
                    sources.setdefault(target.id, {}).setdefault(source.id, rule.name)
    return sources


def inhibit(
    rules: Iterable[InhibitRule],
    alerts: list[OpenAlert],
    channels: Mapping[tuple[str, str], str],
    exempt: frozenset[int] = frozenset(),
) -> Inhibition:
    """Apply ``rules`` to the open alerts; ``exempt`` ones (muted by topology) take no part.

    Per rule, each alert is matched once as a source and once as a target, and only sources
    and targets with the same ``equal`` labels are paired (a tick stays linear in alerts).
    """
    labels = {a.id: labels_of(a, channels) for a in alerts}
    by_id = {a.id: a for a in alerts}
    sources = _pairs(rules, alerts, labels, exempt)
    # Mutual pairs: the older alert explains the newer.
    for tid, found in sources.items():
        for sid in list(found):
            if tid in sources.get(sid, {}) and _age(by_id[sid]) > _age(by_id[tid]):
                del found[sid]
    direct = {
        tid: min(found.items(), key=lambda kv: _age(by_id[kv[0]]))
        for tid, found in sources.items()
        if found
    }
    by: dict[int, tuple[int, str]] = {}
    for tid, (sid, rule_name) in direct.items():
        seen = {tid}
        top = sid
        while top in direct and top not in seen:  # fold under the top of the chain
            seen.add(top)
            top = direct[top][0]
        if top != tid:
            by[tid] = (top, rule_name)
    return Inhibition(by)
