"""Grouping and escalation decisions: pure functions of config, alerts, group state and time.

Alertmanager semantics per aggregation group (route + ``group_by`` labels):
a group that had nothing notified waits ``group_wait`` after its first alert fired, then sends
one message with every alert of the group; later changes (new firing or resolved alerts) wait
until ``group_interval`` after the previous message; with no change, unacknowledged firing
alerts are re-notified every ``repeat_interval``. An alert once notified as firing stays in
its group until its resolution has been notified, even if it was acknowledged, silenced or
suppressed meanwhile (it is then not re-notified, but its resolution still is).

Two departures from Alertmanager (docs/notifications.md, "How this differs from Alertmanager"):
a new critical root cause in a group notified a moment ago does not wait ``group_interval``
but only ``critical_interval`` after the previous message (and ``group_wait`` after it fired);
an alert that fired and resolved before any message carried it is reported once as
self-resolved (``brief``) unless it lasted less than ``min_reported``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from alerts.notify.config import NotifyConfig, Route, Timing
from alerts.notify.model import (
    AlertInfo,
    Escalation,
    GroupState,
    Message,
    Note,
    Plan,
    TickState,
    group_key,
    group_labels,
)

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def plan(
    config: NotifyConfig,
    state: TickState,
    now: datetime,
    slack: timedelta,
    language: str,
) -> Plan:
    """Everything the tick at ``now`` writes: group flushes, their notes, escalations.

    ``language`` is the fallback for receivers and files that name none (``IOC_LANGUAGE``).
    """
    messages, updated = plan_flushes(config, state.alerts, state.groups, now, slack)
    groups = {**state.groups, **updated}
    notes = tuple(
        _note(config, m, updated[(m.route, m.group_key)].flushes, language) for m in messages
    )
    escalations = tuple(
        _escalation(config, m, groups, language)
        for m in plan_escalations(config, state.alerts, groups, now)
    )
    return Plan(tuple(updated.values()), notes, escalations)


def _note(config: NotifyConfig, message: Message, seq: int, language: str) -> Note:
    return Note(
        message,
        seq,
        config.channel_of(message.receiver),
        config.language_of(message.receiver, language),
    )


def matching_routes(config: NotifyConfig, labels: dict[str, str]) -> list[tuple[str, Route]]:
    """Routes an alert goes to: in order, stopping at the first match without ``continue``."""
    found: list[tuple[str, Route]] = []
    default: tuple[str, Route] | None = None
    for name, route in config.named_routes():
        if name == "default" and config.default_receiver:
            default = (name, route)
            continue
        if all(m.matches(labels) for m in route.matchers):
            found.append((name, route))
            if not route.continue_:
                break
    if not found and default:
        found.append(default)
    return found


def _sort(alerts: list[AlertInfo]) -> list[AlertInfo]:
    return sorted(alerts, key=lambda a: (SEVERITY_ORDER.get(a.severity, 9), a.since, a.id))


def plan_flushes(
    config: NotifyConfig,
    alerts: dict[int, AlertInfo],
    groups: dict[tuple[str, str], GroupState],
    now: datetime,
    slack: timedelta = timedelta(0),
) -> tuple[list[Message], dict[tuple[str, str], GroupState]]:
    """Messages due at ``now`` (or within ``slack`` after it) and the group states after them.

    ``slack``: ticks come once per evaluation period, so a deadline falling just after a tick
    would otherwise wait a whole period; sending up to ``slack`` early avoids that.
    """
    routes = dict(config.named_routes())
    current: dict[tuple[str, str], set[int]] = {}
    brief: dict[tuple[str, str], set[int]] = {}
    fresh: dict[tuple[str, str], GroupState] = {}
    carried: set[int] = set().union(*(g.alert_ids for g in groups.values()))
    for alert in alerts.values():
        if not alert.notifiable and not (alert.unsent_resolved and alert.id not in carried):
            continue
        for name, route in matching_routes(config, alert.labels):
            timing = config.timing(route)
            grouped = group_labels(alert.labels, timing.group_by)
            key = (name, group_key(name, grouped))
            if alert.notifiable:
                current.setdefault(key, set()).add(alert.id)
            elif alert.lasted >= timing.min_reported:
                brief.setdefault(key, set()).add(alert.id)
            else:
                continue
            fresh.setdefault(key, GroupState(name, key[1], route.receiver, grouped))
    messages: list[Message] = []
    updated: dict[tuple[str, str], GroupState] = {}
    for key in sorted(set(current) | set(groups) | set(brief)):
        state = groups.get(key) or fresh[key]
        found = routes.get(key[0])
        timing = config.timing(found) if found else config.defaults
        cur, short = current.get(key, set()), brief.get(key, set())
        message = _decide(state, cur, short, alerts, timing, now + slack)
        if message is None:
            continue
        if message.firing or message.resolved or message.brief:
            messages.append(message)
        # Resolved (or deleted) alerts leave the group; notified muted ones stay in it.
        carried = {i for i in state.alert_ids if i in alerts and alerts[i].state != "resolved"}
        ids = frozenset(carried | {a.id for a in message.firing})
        updated[key] = state.flushed(ids, now)
    return messages, updated


def _due(
    state: GroupState,
    new: set[int],
    brief: set[int],
    alerts: dict[int, AlertInfo],
    timing: Timing,
    horizon: datetime,
) -> datetime:
    """When a change of the group (new, resolved or brief alerts) is to be sent."""
    arrived = new | brief
    if arrived and (not state.alert_ids or state.last_flush_at is None):
        return min(alerts[i].since for i in arrived) + timing.group_wait
    last = state.last_flush_at or horizon
    due = last + timing.group_interval
    # A new critical root cause is news of its own: it does not wait for the group's rhythm.
    urgent = [alerts[i].since for i in new if alerts[i].severity in timing.urgent_severities]
    if urgent:
        due = min(due, max(min(urgent) + timing.group_wait, last + timing.critical_interval))
    return due


def _decide(
    state: GroupState,
    cur: set[int],
    brief: set[int],
    alerts: dict[int, AlertInfo],
    timing: Timing,
    horizon: datetime,
) -> Message | None:
    prev = state.alert_ids
    gone = [i for i in prev if i not in alerts or alerts[i].state == "resolved"]
    new = cur - prev
    kind: str | None = None
    if new or gone or brief:
        if horizon >= _due(state, new, brief, alerts, timing, horizon):
            kind = "firing" if cur else "resolved"
    elif (
        cur
        and state.last_flush_at is not None
        and horizon >= state.last_flush_at + timing.repeat_interval
        and any(alerts[i].acknowledged_at is None for i in cur)
    ):
        kind = "repeat"
    if kind is None:
        return None
    return Message(
        kind=kind,
        route=state.route,
        group_key=state.group_key,
        receiver=state.receiver,
        group_labels=state.labels,
        firing=_sort([alerts[i] for i in cur]),
        resolved=_sort([alerts[i] for i in gone if i in alerts]),
        brief=_sort([alerts[i] for i in brief]),
    )


def plan_escalations(
    config: NotifyConfig,
    alerts: dict[int, AlertInfo],
    groups: dict[tuple[str, str], GroupState],
    now: datetime,
) -> list[Message]:
    """Escalation messages due: notified, firing, unacknowledged past a step's ``after``."""
    if not any(route.escalation for _, route in config.named_routes()):
        return []
    by_target: dict[tuple[str, str, int], list[AlertInfo]] = {}
    receivers: dict[tuple[str, str, int], tuple[str, dict[str, str]]] = {}
    for alert in alerts.values():
        if not alert.notifiable or alert.acknowledged_at is not None:
            continue
        chain = next(
            ((n, r) for n, r in matching_routes(config, alert.labels) if r.escalation), None
        )
        if chain is None:
            continue
        name, route = chain
        grouped = group_labels(alert.labels, config.timing(route).group_by)
        gkey = group_key(name, grouped)
        state = groups.get((name, gkey))
        if state is None or alert.id not in state.alert_ids:
            continue  # not notified yet: escalate only what someone was told about
        level = sum(1 for step in route.escalation if now >= alert.since + step.after)
        if level > alert.escalation_level:
            target = (name, gkey, level)
            by_target.setdefault(target, []).append(alert)
            receivers[target] = (route.escalation[level - 1].receiver, grouped)
    return [
        Message(
            kind="escalation",
            route=name,
            group_key=gkey,
            receiver=receivers[(name, gkey, level)][0],
            group_labels=receivers[(name, gkey, level)][1],
            firing=_sort(found),
            level=level,
        )
        for (name, gkey, level), found in sorted(by_target.items())
    ]


def _escalation(
    config: NotifyConfig,
    message: Message,
    groups: dict[tuple[str, str], GroupState],
    language: str,
) -> Escalation:
    """The escalation receiver gets its own group, so the resolution reaches it too."""
    route = f"{message.route}~L{message.level}"
    key = (route, group_key(route, message.group_labels))
    state = groups.get(key) or GroupState(route, key[1], message.receiver, message.group_labels)
    note = _note(config, replace(message, group_key=state.group_key), 0, language)
    return Escalation(note, state)
