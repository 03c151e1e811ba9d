"""Operator actions, the one owner: acknowledge, assign, create and expire silences.

The REST API, the web console, Telegram and Zalo all call these; ``channel`` ("api",
"console", "telegram", "zalo") says where the action came from and is recorded in the alert's
timeline and the audit log. Each alert action is one ``UPDATE ... RETURNING`` carrying its
state and scope checks, so two operators acting at once cannot both pass a stale check.
Acknowledging records who and why; it never stops the alert from resolving. An alert is
assigned only to an active technician or admin who sees its commune (``assignable``), whichever
channel asks.

History vocabulary (alert_history.action, audit_log.action for alerts): ``acknowledged``,
``assigned``. Silences are audited as ``create`` / ``expire`` of object type ``silence``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb

from ioc.errors import IocError
from ioc.ops import history
from ioc.ops.silences import SilenceSpec

Channel = Literal["api", "console", "telegram", "zalo"]
Outcome = Literal["done", "not_found", "resolved"]
ACKNOWLEDGED = "acknowledged"
ASSIGNED = "assigned"

# The scope filter: NULL scope = every commune. A row outside the scope is "not found".
_SCOPE = "(%(scope)s::text[] IS NULL OR commune_code = ANY(%(scope)s))"
ACK_SQL = f"""
UPDATE alerts SET acknowledged_at = %(now)s, acknowledged_by = %(actor)s, ack_note = %(note)s,
    updated_at = %(now)s
WHERE id = %(id)s AND state <> 'resolved' AND {_SCOPE}
RETURNING commune_code
"""
ASSIGN_SQL = f"""
UPDATE alerts SET assignee = %(assignee)s, updated_at = %(now)s
WHERE id = %(id)s AND {_SCOPE}
RETURNING commune_code
"""
STATE_SQL = f"SELECT state FROM alerts WHERE id = %(id)s AND {_SCOPE}"
COMMUNE_SQL = f"SELECT commune_code FROM alerts WHERE id = %(id)s AND {_SCOPE}"
# Who may be assigned an alert of a commune: an active technician or admin who sees it.
# (The console offers exactly these names.)
ASSIGNABLE_SQL = """
SELECT name FROM ioc_auth.users
WHERE revoked_at IS NULL AND role IN ('technician', 'admin')
  AND (communes = '{}' OR %(commune)s::text = ANY(communes))
  AND (%(name)s::text IS NULL OR name = %(name)s)
ORDER BY name LIMIT %(limit)s
"""
USER_SQL = "SELECT role FROM ioc_auth.users WHERE name = %(name)s AND revoked_at IS NULL"
SILENCE_SQL = """
INSERT INTO silences (matchers, starts_at, ends_at, recurrence, created_by, comment)
VALUES (%(matchers)s, %(starts_at)s, %(ends_at)s, %(recurrence)s, %(actor)s, %(comment)s)
RETURNING id
"""
EXPIRE_SQL = """
UPDATE silences SET expired_at = %(now)s
WHERE id = %(id)s AND (expired_at IS NULL OR expired_at > %(now)s) AND ends_at > %(now)s
RETURNING id
"""
DEVICE_COMMUNE = "SELECT commune_code FROM devices WHERE id = %(id)s"
SITE_COMMUNE = "SELECT commune_code FROM sites WHERE id = %(id)s"


class ActionRefused(IocError):
    """An action's input is refused; ``field`` names the offending part (``matchers.0.value``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ActionResult:
    """What an alert action did: ``done``, or why not (``not_found`` covers out of scope)."""

    outcome: Outcome
    alert_id: int
    commune: str | None = None

    @property
    def ok(self) -> bool:
        """The action was applied."""
        return self.outcome == "done"


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _record(
    conn: psycopg.Connection,
    alert_id: int,
    commune: str | None,
    action: str,
    *,
    actor: str,
    channel: Channel,
    now: datetime,
    note: str | None,
    data: dict[str, Any],
) -> None:
    details = {**data, "channel": channel}
    history.record(conn, alert_id, now, action, actor=actor, note=note, data=details)
    history.audit(conn, actor, action, "alert", alert_id, commune, details, now=now)


def _missed(conn: psycopg.Connection, alert_id: int, scope: list[str] | None) -> ActionResult:
    row = conn.execute(STATE_SQL, {"id": alert_id, "scope": scope}).fetchone()
    return ActionResult("not_found" if row is None else "resolved", alert_id)


def _act(
    conn: psycopg.Connection,
    sql: str,
    alert_id: int,
    action: str,
    *,
    actor: str,
    channel: Channel,
    now: datetime | None,
    scope: list[str] | None,
    note: str | None,
    data: dict[str, Any],
) -> ActionResult:
    at = _now(now)
    params = {**data, "id": alert_id, "actor": actor, "now": at, "scope": scope}
    with conn.transaction():
        row = conn.execute(sql, params).fetchone()
        if row is None:
            return _missed(conn, alert_id, scope)
        _record(conn, alert_id, row[0], action, actor=actor, channel=channel, now=at, note=note,
                data=data)  # fmt: skip
    return ActionResult("done", alert_id, row[0])


def acknowledge(
    conn: psycopg.Connection,
    alert_id: int,
    *,
    actor: str,
    note: str,
    channel: Channel,
    now: datetime | None = None,
    scope: list[str] | None = None,
) -> ActionResult:
    """Acknowledge an open alert; ``resolved`` / ``not_found`` (or outside ``scope``) if not."""
    return _act(conn, ACK_SQL, alert_id, ACKNOWLEDGED, actor=actor, channel=channel, now=now,
                scope=scope, note=note, data={"note": note})  # fmt: skip


def assignable(conn: psycopg.Connection, commune: str | None, limit: int = 200) -> list[str]:
    """Names of the users an alert of ``commune`` may be assigned to."""
    rows = conn.execute(ASSIGNABLE_SQL, {"commune": commune, "name": None, "limit": limit})
    return [r[0] for r in rows.fetchall()]


def check_assignee(conn: psycopg.Connection, assignee: str, commune: str | None) -> None:
    """``ActionRefused`` (saying why) unless ``assignee`` may take an alert of ``commune``."""
    params = {"commune": commune, "name": assignee, "limit": 1}
    if conn.execute(ASSIGNABLE_SQL, params).fetchone() is not None:
        return
    row = conn.execute(USER_SQL, {"name": assignee}).fetchone()
    if row is None:
        problem = f"no active user is named {assignee!r}"
    elif row[0] not in ("technician", "admin"):
        problem = f"user {assignee!r} is an {row[0]} and may not act on alerts"
    else:
        where = f"commune {commune}" if commune else "alerts without a commune"
        problem = f"user {assignee!r} does not see {where}"
    raise ActionRefused("assignee", f"{problem}; assign to a technician of the alert's commune")


def assign(
    conn: psycopg.Connection,
    alert_id: int,
    *,
    assignee: str | None,
    actor: str,
    channel: Channel,
    now: datetime | None = None,
    scope: list[str] | None = None,
) -> ActionResult:
    """Assign an alert to someone (None clears); ``not_found`` when unknown or out of scope.

    ActionRefused when ``assignee`` is not an active technician or admin seeing the alert's
    commune.
    """
    with conn.transaction():
        if assignee is not None:
            row = conn.execute(COMMUNE_SQL, {"id": alert_id, "scope": scope}).fetchone()
            if row is None:
                return ActionResult("not_found", alert_id)
            check_assignee(conn, assignee, row[0])
        return _act(conn, ASSIGN_SQL, alert_id, ASSIGNED, actor=actor, channel=channel, now=now,
                    scope=scope, note=None, data={"assignee": assignee})  # fmt: skip


def silence_commune(
    conn: psycopg.Connection, spec: SilenceSpec, scope: list[str] | None
) -> str | None:
    """The commune a silence is confined to; ActionRefused when a scoped caller oversteps.

    A commune-scoped caller must name one of their communes through an equality matcher on
    ``commune``, ``site`` or ``device``, and may not name anything outside them.
    """
    first: str | None = None
    for i, m in enumerate(spec.matchers):
        if m.op != "=" or m.label not in ("commune", "site", "device"):
            continue
        if m.label == "commune":
            commune: str | None = m.value
        elif scope is None:
            continue
        else:
            query = DEVICE_COMMUNE if m.label == "device" else SITE_COMMUNE
            row = conn.execute(query, {"id": m.value}).fetchone()
            commune = row[0] if row else None
        if scope is not None and (commune is None or commune not in scope):
            raise ActionRefused(
                f"matchers.{i}.value", f"{m.label} {m.value} is outside your communes"
            )
        first = first or commune
    if scope is not None and first is None:
        raise ActionRefused(
            "matchers",
            "a commune-scoped user must include a matcher commune=, site= or device= "
            "naming one of their communes",
        )
    return first


def create_silence(
    conn: psycopg.Connection,
    spec: SilenceSpec,
    *,
    actor: str,
    channel: Channel,
    now: datetime | None = None,
    scope: list[str] | None = None,
) -> int:
    """Store a silence (starting now unless ``starts_at``) and audit it; its id.

    ActionRefused when it ends before it starts or in the past, or oversteps ``scope``.
    """
    at = _now(now)
    starts_at = spec.starts_at or at
    if spec.ends_at <= starts_at:
        raise ActionRefused("ends_at", "ends_at must be after starts_at")
    if spec.ends_at <= at:
        raise ActionRefused("ends_at", "ends_at must be in the future")
    with conn.transaction():
        commune = silence_commune(conn, spec, scope)
        row = conn.execute(
            SILENCE_SQL,
            {
                "matchers": Jsonb([m.model_dump() for m in spec.matchers]),
                "starts_at": starts_at,
                "ends_at": spec.ends_at,
                "recurrence": Jsonb(spec.recurrence.model_dump(mode="json"))
                if spec.recurrence
                else None,
                "actor": actor,
                "comment": spec.comment,
            },
        ).fetchone()
        assert row is not None
        details = {**spec.model_dump(mode="json"), "channel": channel}
        history.audit(conn, actor, "create", "silence", row[0], commune, details, now=at)
    return int(row[0])


def expire_silence(
    conn: psycopg.Connection,
    silence_id: int,
    *,
    actor: str,
    channel: Channel,
    now: datetime | None = None,
) -> bool:
    """End a silence now; False when it was not in force any more (or is unknown)."""
    at = _now(now)
    with conn.transaction():
        if conn.execute(EXPIRE_SQL, {"id": silence_id, "now": at}).fetchone() is None:
            return False
        details = {"channel": channel}
        history.audit(conn, actor, "expire", "silence", silence_id, None, details, now=at)
    return True
