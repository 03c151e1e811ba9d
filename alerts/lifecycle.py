"""Alert lifecycle: pending → firing (after ``for``) → resolved, one open alert per fingerprint.

Conditions from a rule are merged with that rule's open alerts; only transitions write. A
pending alert whose condition goes away before ``for`` elapsed never fired and is deleted
(like Prometheus), so every resolved row is an alert that fired.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from alerts.rules.base import AlertRule, Condition, Texts
from alerts.texts import DeviceInfo, load_devices, render
from ioc.ops.history import row as history_row
from ioc.ops.history import write_rows as write_history

log = logging.getLogger(__name__)

# Array parameters are sent in binary (%(x)b): the text format escapes every element.
# Labels are rebuilt from columns and only two annotations are read: parsing every open
# alert's JSON each tick dominated storms.
OPEN_SQL = """
SELECT id, fingerprint, rule, kind, state, device_id, severity, started_at, suppressed_by,
       silenced_by, commune_code, site_id, device_type, annotations ->> 'metric',
       annotations -> 'impact', annotations -> 'event_data' ->> 'channel', fired_at
FROM alerts WHERE state <> 'resolved' AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s))
"""
INSERT_SQL = """
INSERT INTO alerts (fingerprint, rule, kind, severity, state, device_id, commune_code, site_id,
                    device_type, labels, annotations, summary, summary_en, value, started_at,
                    fired_at, updated_at)
SELECT u.*, %(now)s, CASE WHEN u.state = 'firing' THEN %(now)s::timestamptz END, %(now)s
FROM unnest(%(fingerprint)b::text[], %(rule)b::text[], %(kind)b::text[],
            %(severity)b::text[], %(state)b::text[], %(device_id)b::text[],
            %(commune)b::text[], %(site)b::text[], %(type)b::text[], %(labels)b::jsonb[],
            %(annotations)b::jsonb[], %(summary)b::text[], %(summary_en)b::text[],
            %(value)b::float8[])
    AS u(fingerprint, rule, kind, severity, state, device_id, commune, site, type, labels,
         annotations, summary, summary_en, value)
ON CONFLICT (fingerprint) WHERE state <> 'resolved' DO NOTHING
RETURNING id, fingerprint
"""
FIRE_SQL = """
UPDATE alerts SET state = 'firing', fired_at = %(now)s, updated_at = %(now)s
WHERE id = ANY(%(ids)s) AND state = 'pending'
RETURNING id
"""
RESOLVE_SQL = """
UPDATE alerts SET state = 'resolved', resolved_at = %(now)s, updated_at = %(now)s
WHERE id = ANY(%(ids)s) AND state = 'firing'
RETURNING id
"""
DROP_PENDING_SQL = "DELETE FROM alerts WHERE id = ANY(%(ids)s) AND state = 'pending' RETURNING id"


@dataclass
class OpenAlert:
    """An alert that is pending or firing."""

    id: int
    fingerprint: str
    rule: str
    kind: str
    state: str
    device_id: str | None
    severity: str
    started_at: datetime
    suppressed_by: int | None
    silenced_by: list[int]
    commune_code: str | None
    site_id: str | None
    device_type: str | None
    metric: str | None  # annotations.metric (threshold/state rules)
    impact: dict[str, int] | None  # annotations.impact (root-cause alerts)
    channel: str | None = None  # annotations.event_data.channel (an NVR's input, say)
    fired_at: datetime | None = None

    @property
    def labels(self) -> dict[str, str]:
        """The alert's labels (as stored at creation, from its columns)."""
        return {
            "commune": self.commune_code or "",
            "site": self.site_id or "",
            "device": self.device_id or "",
            "type": self.device_type or ("system" if self.device_id is None else ""),
            "rule": self.rule,
            "severity": self.severity,
        }


@dataclass
class Transitions:
    """What one evaluation changed (for logs, tests and benchmarks)."""

    pending: list[int] = field(default_factory=list)
    firing: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.pending or self.firing or self.resolved or self.dropped)


def load_open(conn: psycopg.Connection, ids: list[int] | None = None) -> list[OpenAlert]:
    """Every pending or firing alert (or those of ``ids``)."""
    return [OpenAlert(*row) for row in conn.execute(OPEN_SQL, {"ids": ids}).fetchall()]


def apply_rule(
    conn: psycopg.Connection,
    rule: AlertRule,
    conditions: list[Condition],
    open_alerts: list[OpenAlert],
    now: datetime,
    out: Transitions,
    held: frozenset[str] = frozenset(),
) -> None:
    """Merge one rule's conditions with its open alerts and write the transitions in batches.

    ``open_alerts`` may hold other rules' alerts too (they are ignored). Alerts of ``held``
    devices (cut off, root cause not alerting yet) stay pending: they fire once the root-cause
    alert exists to suppress them, or once the device is reachable again.
    """
    mine = {a.fingerprint: a for a in open_alerts if a.rule == rule.name}
    active: dict[str, Condition] = {}
    for cond in conditions:
        fp = rule.fingerprint(cond)
        # A hold (hysteresis) only keeps an open alert open; a firing row wins a duplicate.
        if (cond.fire or fp in mine) and (fp not in active or cond.fire):
            active[fp] = cond
    rows: list[dict[str, Any]] = []
    new = [(fp, c) for fp, c in active.items() if fp not in mine]
    if new:
        _open(conn, rule, new, now, out, rows, held)
    due, gone, dropped = [], [], []
    for fp, alert in mine.items():
        if fp in active:
            waited = now - alert.started_at >= rule.for_
            if alert.state == "pending" and waited and alert.device_id not in held:
                due.append(alert.id)
        elif alert.state == "firing":
            gone.append(alert.id)
        else:
            dropped.append(alert.id)
    for sql, ids, action, bucket in (
        (FIRE_SQL, due, "firing", out.firing),
        (RESOLVE_SQL, gone, "resolved", out.resolved),
        (DROP_PENDING_SQL, dropped, None, out.dropped),
    ):
        if not ids:
            continue
        changed = [r[0] for r in conn.execute(sql, {"ids": ids, "now": now}).fetchall()]
        bucket.extend(changed)
        if action:
            rows.extend(history_row(alert_id, now, action) for alert_id in changed)
    write_history(conn, rows)


def _open(
    conn: psycopg.Connection,
    rule: AlertRule,
    new: list[tuple[str, Condition]],
    now: datetime,
    out: Transitions,
    rows: list[dict[str, Any]],
    held: frozenset[str],
) -> None:
    devices = load_devices(conn, [c.device_id for _, c in new if c.device_id])
    at_once = rule.for_.total_seconds() <= 0
    texts = rule.texts()
    params, values, fired = [], [], []
    for fp, cond in new:
        device = devices.get(cond.device_id or "")
        if cond.device_id is not None and device is None:
            continue  # removed from the registry meanwhile
        firing = at_once and cond.device_id not in held
        params.append(_insert_params(rule, fp, cond, device, texts, firing))
        values.append(cond.value)
        fired.append(firing)
    if not params:
        return
    columns = {key: [p[key] for p in params] for key in params[0]}
    created: dict[int, str] = dict(conn.execute(INSERT_SQL, {**columns, "now": now}).fetchall())
    by_fp = {p["fingerprint"]: (v, f) for p, v, f in zip(params, values, fired, strict=True)}
    # Fingerprints missing from the result were opened first by another engine (failover).
    for alert_id, fp in sorted(created.items()):
        value, firing = by_fp[fp]
        rows.append(history_row(alert_id, now, "pending", data={"value": value}))
        out.pending.append(alert_id)
        if firing:
            rows.append(history_row(alert_id, now, "firing"))
            out.firing.append(alert_id)


def _insert_params(
    rule: AlertRule,
    fp: str,
    cond: Condition,
    device: DeviceInfo | None,
    texts: Texts,
    firing: bool,
) -> dict[str, Any]:
    severity = cond.severity or rule.severity
    values = {**(device.template_vars() if device else {}), **rule.template_vars(cond)}
    labels = {**(device.labels() if device else {"type": "system"}), "rule": rule.name}
    labels["severity"] = severity
    summary, summary_en = render(texts.vi, values, "vi"), render(texts.en, values, "en")
    annotations = {**rule.annotations(cond), "description": summary, "description_en": summary_en}
    return {
        "fingerprint": fp,
        "rule": rule.name,
        "kind": rule.kind,
        "severity": severity,
        "state": "firing" if firing else "pending",
        "device_id": cond.device_id,
        "commune": device.commune_code if device else None,
        "site": device.site_id if device else None,
        "type": device.type if device else None,
        "labels": Jsonb(labels),
        "annotations": Jsonb(annotations),
        "summary": summary,
        "summary_en": summary_en,
        "value": cond.value,
    }
