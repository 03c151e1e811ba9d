"""What the console does to alerts and silences: ``ioc.ops.actions`` with the channel ``console``.

The role check is the API's ``require`` dependency, the commune scope the API's ``Principal``;
outcomes map to the same HTTP errors as the REST routes (404 outside the scope, 409 resolved,
422 refused input), shown as the console's error page.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from fastapi import HTTPException
from pydantic import ValidationError

from api.deps import invalid, not_found, require
from api.routes.silences import fetch as fetch_silence
from ioc.ops import actions
from ioc.ops.access import Principal
from ioc.ops.silences import SilenceSpec

ACTING_ROLE = "technician"
CHANNEL: actions.Channel = "console"


def _invalid(exc: ValidationError) -> HTTPException:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return HTTPException(422, f"{where}: {first['msg']}" if where else first["msg"])


def _checked(result: actions.ActionResult) -> None:
    if result.outcome == "not_found":
        raise not_found("alert", result.alert_id)
    if result.outcome == "resolved":
        raise HTTPException(409, f"alert {result.alert_id} is already resolved")


def acknowledge(conn: psycopg.Connection, user: Principal, alert_id: int, note: str) -> None:
    """Acknowledge an open alert with a note."""
    require(ACTING_ROLE)(user)
    if len(note) > 2000:
        raise HTTPException(422, "note: at most 2000 characters")
    _checked(
        actions.acknowledge(
            conn, alert_id, actor=user.name, note=note, channel=CHANNEL, scope=user.scope
        )
    )


def assign(conn: psycopg.Connection, user: Principal, alert_id: int, assignee: str | None) -> None:
    """Assign an alert (None: unassign)."""
    require(ACTING_ROLE)(user)
    try:
        result = actions.assign(
            conn, alert_id, assignee=assignee, actor=user.name, channel=CHANNEL, scope=user.scope
        )
    except actions.ActionRefused as exc:
        raise invalid(exc.field, exc.message) from None
    _checked(result)


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
        spec = SilenceSpec.model_validate(
            {
                "matchers": [{"label": label, "op": "=", "value": value}],
                "ends_at": ends_at,
                "comment": comment,
            }
        )
        return actions.create_silence(
            conn, spec, actor=user.name, channel=CHANNEL, scope=user.scope
        )
    except ValidationError as exc:
        raise _invalid(exc) from None
    except actions.ActionRefused as exc:
        raise invalid(exc.field, exc.message) from None


def expire(conn: psycopg.Connection, user: Principal, silence_id: int) -> None:
    """End a silence now (404 when the user does not see it)."""
    require(ACTING_ROLE)(user)
    fetch_silence(conn, silence_id, user)
    actions.expire_silence(conn, silence_id, actor=user.name, channel=CHANNEL)
