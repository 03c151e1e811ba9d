"""Muting pass over open alerts: topology inhibition, inhibit rules, silences, and impact.

An alert is muted (``suppressed_by``) by its root cause's alert when its device is cut off,
else by the alert an inhibit rule says explains it (``alerts/inhibit_rules.py``). When that
alert resolves, the muted one stays folded under it for the recovery grace (it resolves
meanwhile instead of paging); an event alert (a moment, not a state) stays folded until it
resolves itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from alerts.inhibit_rules import InhibitRule, channel_map, inhibit
from alerts.lifecycle import OpenAlert, history_row, write_history
from alerts.mute import TopologyInhibitor
from alerts.reachability import ReachabilityResult
from alerts.rules.base import SEVERITY_RANK
from alerts.silences import Silencer
from alerts.texts import load_devices, root_cause_summaries

log = logging.getLogger(__name__)

# One statement for every changed alert; silenced_by travels as array text ('{1,2}').
MUTE_SQL = """
UPDATE alerts a SET suppressed_by = u.suppressed_by, silenced_by = u.silenced_by::bigint[],
    annotations = CASE WHEN u.suppressed_by IS NOT NULL AND u.patch = '{}'::jsonb
                       THEN a.annotations
                       ELSE a.annotations - 'root_cause_device' - 'root_cause_alert'
                            - 'inhibit_rule' || u.patch END,
    updated_at = %(now)s
FROM unnest(%(id)b::bigint[], %(suppressed_by)b::bigint[], %(silenced_by)b::text[],
            %(patch)b::jsonb[]) AS u(id, suppressed_by, silenced_by, patch)
WHERE a.id = u.id AND a.state <> 'resolved'
"""
IMPACT_SQL = """
UPDATE alerts SET annotations = annotations || %(patch)s, summary = %(summary)s,
    summary_en = %(summary_en)s, updated_at = %(now)s
WHERE id = %(id)s AND state <> 'resolved'
"""
ROOT_METRICS = ("up", "online")
# Muting alerts resolved, and whether within the grace period (children reconnecting).
RESOLVED_SQL = """
SELECT id, resolved_at > %(since)s FROM alerts WHERE id = ANY(%(ids)s) AND state = 'resolved'
"""


def _root_capable(alert: OpenAlert) -> bool:
    return alert.kind == "absence" or alert.metric in ROOT_METRICS


def root_alerts(open_alerts: list[OpenAlert], roots: set[str]) -> dict[str, int]:
    """The alert standing for each root-cause device (offline first, then link down)."""
    best: dict[str, OpenAlert] = {}
    for alert in open_alerts:
        if alert.device_id not in roots or not _root_capable(alert):
            continue
        known = best.get(alert.device_id)
        rank = (alert.kind == "absence", SEVERITY_RANK.get(alert.severity, 0), -alert.id)
        if known is None or rank > (
            known.kind == "absence",
            SEVERITY_RANK.get(known.severity, 0),
            -known.id,
        ):
            best[alert.device_id] = alert
    return {device: alert.id for device, alert in best.items()}


def apply_mutes(
    conn: psycopg.Connection,
    now: datetime,
    open_alerts: list[OpenAlert],
    reach: ReachabilityResult,
    silencer: Silencer,
    grace: timedelta = timedelta(0),
    inhibit_rules: Sequence[InhibitRule] = (),
) -> dict[str, int]:
    """Set suppressed_by / silenced_by where they changed; return counts for logs.

    When a root cause recovers, its children stay suppressed for ``grace`` while they
    reconnect, so the recovery does not page their offline alerts for a few seconds.
    """
    roots = root_alerts(open_alerts, set(reach.unreachable.values()))
    inhibitor = TopologyInhibitor(reach.unreachable, roots)
    cut_off = {a.id: by[0] for a in open_alerts if (by := inhibitor.muted_by(a.labels))}
    explained = inhibit(
        inhibit_rules,
        open_alerts,
        channel_map(conn) if inhibit_rules else {},
        frozenset(cut_off),
    )
    wanted = {a.id: cut_off.get(a.id) or explained.source_of(a.id) for a in open_alerts}
    freed = {
        a.suppressed_by
        for a in open_alerts
        if a.suppressed_by is not None and wanted[a.id] != a.suppressed_by
    }
    resolved: dict[int, bool] = {}
    if freed:
        rows_ = conn.execute(RESOLVED_SQL, {"ids": sorted(freed), "since": now - grace}).fetchall()
        resolved = {r[0]: bool(r[1]) for r in rows_}
    counts = {"suppressed": 0, "unsuppressed": 0, "silenced": 0, "unsilenced": 0}
    updates: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for alert in open_alerts:
        suppressed_by = wanted[alert.id]
        cause = alert.suppressed_by
        if (
            suppressed_by is None
            and cause in resolved
            and (resolved[cause] or alert.kind == "event")
        ):
            suppressed_by = cause  # its cause just recovered: grace (an event: until it resolves)
        silenced_by = silencer.muted_by(alert.labels)
        if suppressed_by == alert.suppressed_by and silenced_by == sorted(alert.silenced_by):
            continue
        patch: dict[str, Any] = {}
        if suppressed_by is not None and alert.id in cut_off:
            patch["root_cause_device"] = reach.unreachable[alert.device_id or ""]
            patch["root_cause_alert"] = suppressed_by
        elif suppressed_by is not None and (rule := explained.rule_of(alert.id)):
            patch["inhibit_rule"] = rule
        updates.append(
            {
                "id": alert.id,
                "suppressed_by": suppressed_by,
                "silenced_by": "{" + ",".join(map(str, silenced_by)) + "}",
                "patch": Jsonb(patch),
            }
        )
        if suppressed_by != alert.suppressed_by:
            action = "suppressed" if suppressed_by is not None else "unsuppressed"
            data = {"by": suppressed_by, "root_cause_device": patch.get("root_cause_device")}
            if "inhibit_rule" in patch:
                data["inhibit_rule"] = patch["inhibit_rule"]
            rows.append(history_row(alert.id, now, action, data=data))
            counts[action] += 1
        if silenced_by != sorted(alert.silenced_by):
            action = "silenced" if silenced_by else "unsilenced"
            rows.append(history_row(alert.id, now, action, data={"silences": silenced_by}))
            counts[action] += 1
        alert.suppressed_by, alert.silenced_by = suppressed_by, silenced_by
    if updates:
        columns = {key: [u[key] for u in updates] for key in updates[0]}
        conn.execute(MUTE_SQL, {**columns, "now": now})
    write_history(conn, rows)
    _update_impact(conn, now, open_alerts, roots, reach.impact)
    return counts


def _update_impact(
    conn: psycopg.Connection,
    now: datetime,
    open_alerts: list[OpenAlert],
    roots: Mapping[str, int],
    impact: Mapping[str, dict[str, int]],
) -> None:
    """Root-cause alerts say what is cut off behind them; the text follows the count."""
    by_id = {a.id: a for a in open_alerts}
    targets: dict[int, dict[str, int]] = {aid: impact.get(dev, {}) for dev, aid in roots.items()}
    # Alerts that carried an impact before and are no longer root causes lose it.
    for alert in open_alerts:
        if alert.impact and alert.id not in targets:
            targets[alert.id] = {}
    changed = [(aid, imp) for aid, imp in targets.items() if (by_id[aid].impact or {}) != imp]
    if not changed:
        return
    devices = load_devices(conn, [by_id[aid].device_id or "" for aid, _ in changed])
    for aid, imp in changed:
        alert = by_id[aid]
        device = devices.get(alert.device_id or "")
        if device is None:
            continue
        summary, summary_en = root_cause_summaries(device, imp)
        patch = {
            "impact": imp,
            "impact_total": sum(imp.values()),
            "description": summary,
            "description_en": summary_en,
        }
        conn.execute(
            IMPACT_SQL,
            {
                "id": aid,
                "patch": Jsonb(patch),
                "summary": summary,
                "summary_en": summary_en,
                "now": now,
            },
        )
        write_history(conn, [history_row(aid, now, "impact", data={"impact": imp})])
        alert.impact = imp
        log.info("root cause %s (alert %d): impact %s", alert.device_id, aid, imp)
