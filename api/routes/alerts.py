"""Alerts: list with filters, detail with timeline, acknowledge, assign."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, HTTPException, Path, Query
from psycopg.rows import class_row

from api.deps import ConnDep, CurrentUser, PageDep, Technician, invalid, not_found
from api.models.alerts import (
    AlertAck,
    AlertAssign,
    AlertDetail,
    AlertPublic,
    AlertsPublic,
    AlertStateFilter,
    HistoryEntry,
    Severity,
)
from api.models.common import COMMUNE_PATTERN, ID_PATTERN, Message
from api.routes.device_data import From, To, time_range
from api.sqlutil import fetch_page
from ioc.ops import actions

router = APIRouter(prefix="/alerts", tags=["alerts"])

SUPPRESSED = "(a.suppressed_by IS NOT NULL OR a.silenced_by <> '{}')"
SELECT = f"""
SELECT a.id, a.fingerprint, a.rule, a.kind, a.severity, a.state,
       (a.state <> 'resolved' AND {SUPPRESSED}) AS suppressed,
       a.device_id, a.commune_code, a.site_id, a.device_type, a.labels, a.annotations,
       a.summary, a.summary_en, a.value, a.started_at, a.fired_at, a.resolved_at,
       a.suppressed_by, a.silenced_by, a.acknowledged_at, a.acknowledged_by, a.ack_note,
       a.assignee, a.escalation_level, a.updated_at
FROM alerts a
"""
WHERE = f"""
WHERE (%(scope)s::text[] IS NULL OR a.commune_code = ANY(%(scope)s))
  AND (%(id)s::bigint IS NULL OR a.id = %(id)s)
  AND (%(state)s::text IS NULL
       OR (%(state)s = 'open' AND a.state <> 'resolved')
       OR (%(state)s = 'suppressed' AND a.state <> 'resolved' AND {SUPPRESSED})
       OR (%(state)s = 'firing' AND a.state = 'firing' AND NOT {SUPPRESSED})
       OR (%(state)s IN ('pending', 'resolved') AND a.state = %(state)s))
  AND (%(severity)s::text[] IS NULL OR a.severity = ANY(%(severity)s))
  AND (%(commune)s::text IS NULL OR a.commune_code = %(commune)s)
  AND (%(device)s::text IS NULL OR a.device_id = %(device)s)
  AND (%(rule)s::text IS NULL OR a.rule = %(rule)s)
  AND (%(from)s::timestamptz IS NULL OR coalesce(a.resolved_at, 'infinity') >= %(from)s)
  AND (%(to)s::timestamptz IS NULL OR a.started_at < %(to)s)
"""
LIST = SELECT + WHERE + "ORDER BY a.started_at DESC, a.id DESC LIMIT %(limit)s OFFSET %(offset)s"
COUNT = "SELECT count(*) FROM alerts a " + WHERE
HISTORY = """
SELECT time, action, actor, note, data FROM alert_history WHERE alert_id = %(id)s
ORDER BY time, id
"""
ALERT_MAX_DAYS = 3660
AlertId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Alert id.")]
EMPTY: dict[str, Any] = {
    "state": None,
    "severity": None,
    "commune": None,
    "device": None,
    "rule": None,
    "from": None,
    "to": None,
}


def fetch(conn: psycopg.Connection, alert_id: int, scope: list[str] | None) -> AlertPublic:
    """One visible alert, or 404."""
    with conn.cursor(row_factory=class_row(AlertPublic)) as cur:
        row = cur.execute(SELECT + WHERE, {**EMPTY, "scope": scope, "id": alert_id}).fetchone()
    if row is None:
        raise not_found("alert", alert_id)
    return row


@router.get("", response_model=AlertsPublic)
def list_alerts(
    conn: ConnDep,
    user: CurrentUser,
    page: PageDep,
    state: Annotated[
        AlertStateFilter | None,
        Query(description="firing excludes suppressed alerts; open = pending or firing."),
    ] = None,
    severity: Annotated[list[Severity] | None, Query(max_length=3)] = None,
    commune: Annotated[str | None, Query(pattern=COMMUNE_PATTERN)] = None,
    device: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    rule: Annotated[str | None, Query(max_length=100)] = None,
    start: From = None,
    to: To = None,
) -> AlertsPublic:
    """Alerts visible to the caller, newest first; from/to select alerts active in the range."""
    if start is not None or to is not None:
        start, to = time_range(start, to, timedelta(days=30), ALERT_MAX_DAYS)
    params = {
        "scope": user.scope,
        "id": None,
        "state": state,
        "severity": severity,
        "commune": commune,
        "device": device,
        "rule": rule,
        "from": start,
        "to": to,
        "limit": page.limit,
        "offset": page.offset,
    }
    rows, count = fetch_page(conn, LIST, COUNT, params, AlertPublic)
    return AlertsPublic(data=rows, count=count, limit=page.limit, offset=page.offset)


@router.get("/{alert_id}", response_model=AlertDetail)
def get_alert(conn: ConnDep, user: CurrentUser, alert_id: AlertId) -> AlertDetail:
    """One alert with its timeline (state changes, acknowledgements, assignments, notes)."""
    alert = fetch(conn, alert_id, user.scope)
    with conn.cursor(row_factory=class_row(HistoryEntry)) as cur:
        timeline = cur.execute(HISTORY, {"id": alert_id}).fetchall()
    return AlertDetail(**alert.model_dump(), timeline=timeline)


def _raise_unless_done(result: actions.ActionResult) -> None:
    if result.outcome == "not_found":
        raise not_found("alert", result.alert_id)
    if result.outcome == "resolved":
        raise HTTPException(409, f"alert {result.alert_id} is already resolved")


@router.post(
    "/{alert_id}/ack",
    response_model=AlertDetail,
    responses={409: {"model": Message, "description": "Already resolved"}},
)
def ack_alert(conn: ConnDep, user: Technician, alert_id: AlertId, body: AlertAck) -> AlertDetail:
    """Acknowledge an open alert with a note (technician): stops re-notification."""
    result = actions.acknowledge(
        conn, alert_id, actor=user.name, note=body.note, channel="api", scope=user.scope
    )
    _raise_unless_done(result)
    return get_alert(conn, user, alert_id)


@router.post("/{alert_id}/assign", response_model=AlertDetail)
def assign_alert(
    conn: ConnDep, user: Technician, alert_id: AlertId, body: AlertAssign
) -> AlertDetail:
    """Assign an alert to someone, or unassign it with null (technician)."""
    try:
        result = actions.assign(
            conn, alert_id, assignee=body.assignee, actor=user.name, channel="api", scope=user.scope
        )
    except actions.ActionRefused as exc:
        raise invalid(exc.field, exc.message) from None
    _raise_unless_done(result)
    return get_alert(conn, user, alert_id)
