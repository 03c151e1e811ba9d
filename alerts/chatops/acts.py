"""A verified button press → ``ioc.ops.actions`` (the one owner), named by the chat channel.

The pressing account must be linked to an active user who is a technician or admin and sees
the alert's commune; the scope is passed down too, so the action itself refuses what the
check might have missed. Every outcome is a reply text from ``chatops.texts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

import psycopg

from alerts.chatops.signed import Press
from alerts.chatops.texts import text
from ioc.ops import actions
from ioc.ops.access import Principal
from ioc.ops.silences import SilenceSpec

SILENCE_FOR = timedelta(hours=2)
ALERT = """
SELECT a.id, a.commune_code, a.device_id, a.state, coalesce(d.name, a.device_id) AS device_name
FROM alerts a LEFT JOIN devices d ON d.id = a.device_id WHERE a.id = %(id)s
"""


@dataclass(frozen=True)
class AlertRef:
    """What a press needs to know about its alert."""

    id: int
    commune_code: str | None
    device_id: str | None
    state: str
    device_name: str | None


@dataclass(frozen=True)
class Reply:
    """What came of a press: ``done`` when the action was taken, and the text to answer."""

    done: bool
    text: str


def load(conn: psycopg.Connection, alert_id: int) -> AlertRef | None:
    """The alert a button names, or None when it is gone."""
    row = conn.execute(ALERT, {"id": alert_id}).fetchone()
    return AlertRef(*row) if row else None


def act(
    conn: psycopg.Connection,
    user: Principal,
    alert: AlertRef,
    action: str,
    channel: actions.Channel,
    now: datetime,
) -> bool:
    """Run ``action`` on the alert; False when the alert is resolved (or out of scope)."""
    if action == "ack":
        note = channel.capitalize()
        result = actions.acknowledge(
            conn, alert.id, actor=user.name, note=note, channel=channel, now=now, scope=user.scope
        )
        return result.ok
    if action == "me":
        result = actions.assign(
            conn,
            alert.id,
            assignee=user.name,
            actor=user.name,
            channel=channel,
            now=now,
            scope=user.scope,
        )
        return result.ok
    assert alert.device_id is not None
    spec = SilenceSpec.model_validate(
        {
            "matchers": [{"label": "device", "op": "=", "value": alert.device_id}],
            "starts_at": now,
            "ends_at": now + SILENCE_FOR,
            "comment": f"{channel.capitalize()}: #{alert.id}",
        }
    )
    actions.create_silence(conn, spec, actor=user.name, channel=channel, now=now, scope=user.scope)
    return True


def dispatch(
    conn: psycopg.Connection,
    user: Principal | None,
    press: Press,
    channel: actions.Channel,
    now: datetime,
    zone: tzinfo,
    lang: str,
) -> Reply:
    """Check the account, role and scope of a press, act, and say what happened."""
    if user is None:
        return Reply(False, text(lang, "unlinked", channel=channel))
    if not user.can("technician"):
        return Reply(False, text(lang, "forbidden", name=user.name))
    alert = load(conn, press.alert_id)
    if alert is None:
        return Reply(False, text(lang, "gone", id=press.alert_id))
    if not user.sees(alert.commune_code):
        return Reply(False, text(lang, "scope", id=press.alert_id))
    if press.action == "s2h" and alert.device_id is None:
        return Reply(False, text(lang, "no_device", id=alert.id))
    if not act(conn, user, alert, press.action, channel, now):
        return Reply(False, text(lang, "resolved", id=alert.id))
    status = text(
        lang,
        press.action,
        name=user.name,
        time=now.astimezone(zone).strftime("%H:%M %d/%m/%Y"),
        device=alert.device_name or alert.device_id,
    )
    return Reply(True, f"{status} (#{alert.id})")
