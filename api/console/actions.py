"""What the console does to alerts and silences, through the REST routes' own functions.

There is one implementation of acknowledge / assign / silence / expire (with its scope checks,
history rows and audit entries); the console only adds the role check the routes get from their
dependencies. When ``ioc.actions`` (the shared owner, with the channel ``console`` in history
and audit) is on main, only this module changes.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from fastapi import HTTPException
from pydantic import ValidationError

from api.deps import require
from api.models.alerts import AlertAck, AlertAssign, Matcher, SilenceCreate
from api.routes import alerts as alert_routes
from api.routes import silences as silence_routes
from ioc.access import Principal

ACTING_ROLE = "technician"


def _invalid(exc: ValidationError) -> HTTPException:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return HTTPException(422, f"{where}: {first['msg']}" if where else first["msg"])


def acknowledge(conn: psycopg.Connection, user: Principal, alert_id: int, note: str) -> None:
    """Acknowledge an open alert with a note."""
    require(ACTING_ROLE)(user)
    try:
        body = AlertAck(note=note)
    except ValidationError as exc:
        raise _invalid(exc) from None
    alert_routes.ack_alert(conn, user, alert_id, body)


def assign(conn: psycopg.Connection, user: Principal, alert_id: int, assignee: str | None) -> None:
    """Assign an alert (None: unassign)."""
    require(ACTING_ROLE)(user)
    try:
        body = AlertAssign(assignee=assignee)
    except ValidationError as exc:
        raise _invalid(exc) from None
    alert_routes.assign_alert(conn, user, alert_id, body)


def silence(
    conn: psycopg.Connection,
    user: Principal,
    label: str,
    value: str,
    ends_at: datetime,
    comment: str,
) -> int:
    """Silence everything whose ``label`` equals ``value`` until ``ends_at``; return its id."""
    require(ACTING_ROLE)(user)
    try:
        body = SilenceCreate(
            matchers=[Matcher(label=label, op="=", value=value)],
            ends_at=ends_at,
            comment=comment,
        )
    except ValidationError as exc:
        raise _invalid(exc) from None
    return silence_routes.create_silence(conn, user, body).id


def expire(conn: psycopg.Connection, user: Principal, silence_id: int) -> None:
    """End a silence now."""
    require(ACTING_ROLE)(user)
    silence_routes.expire_silence(conn, user, silence_id)
