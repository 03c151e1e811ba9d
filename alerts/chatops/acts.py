"""A verified button press → ``ioc.ops.actions`` (the one owner), named by the chat channel.

The pressing account must be linked to an active user who is a technician or admin and sees
the alert's commune; the scope is passed down too, so the action itself refuses what the
check might have missed. Presses on one alert are serialised (webhook requests and inbox
workers run in parallel, on any instance, for every chat app) and idempotent: a replayed
acknowledgement or assignment says it is done already, a replayed silence answers with the
silence in force; presses on a resolved alert are refused. Every outcome is a reply text
from ``chatops.texts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Literal

import psycopg
from psycopg.types.json import Jsonb

from alerts.chatops.signed import Press
from alerts.chatops.texts import APPS, ICON, text
from ioc.bounds import clamped_sql
from ioc.ops import actions
from ioc.ops.access import Principal
from ioc.ops.silences import SilenceSpec

SILENCE_FOR = timedelta(hours=2)
TIME_FORMAT = "%H:%M %d/%m/%Y"
ALERT = """
SELECT a.id, a.commune_code, a.device_id, a.state, coalesce(d.name, a.device_id) AS device_name,
       a.acknowledged_by, a.assignee
FROM alerts a LEFT JOIN devices d ON d.id = a.device_id WHERE a.id = %(id)s
"""
LOCK_ALERT = "SELECT pg_advisory_xact_lock(hashtextextended('ioc-chat-press:' || %(id)s, 0))"
# The silence an earlier press on this alert made (from any chat app), while it is in force.
PRESSED_SILENCE = f"""
SELECT id, {clamped_sql("ends_at")} FROM silences
WHERE comment = ANY(%(comments)s) AND matchers @> %(matcher)s
  AND starts_at <= %(now)s AND ends_at > %(now)s AND (expired_at IS NULL OR expired_at > %(now)s)
ORDER BY id LIMIT 1
"""
Outcome = Literal["done", "already", "refused"]


@dataclass(frozen=True)
class AlertRef:
    """What a press needs to know about its alert."""

    id: int
    commune_code: str | None
    device_id: str | None
    state: str
    device_name: str | None
    acknowledged_by: str | None
    assignee: str | None


@dataclass(frozen=True)
class Reply:
    """What came of a press, the answer to the presser, and (when done) the action line.

    The line (``✅ Đã xác nhận bởi … (#12)``) is what a message about the alert gets appended
    (Telegram) or what the chat is told (Zalo).
    """

    outcome: Outcome
    text: str
    line: str | None = None

    @property
    def done(self) -> bool:
        """Whether the action was taken now."""
        return self.outcome == "done"


def load(conn: psycopg.Connection, alert_id: int) -> AlertRef | None:
    """The alert a button names, or None when it is gone."""
    row = conn.execute(ALERT, {"id": alert_id}).fetchone()
    return AlertRef(*row) if row else None


def lock(conn: psycopg.Connection, alert_id: int) -> None:
    """Serialise presses on this alert until the caller's transaction ends."""
    conn.execute(LOCK_ALERT, {"id": str(alert_id)})


def silence_comment(app: str, alert_id: int) -> str:
    """The comment of a silence pressed in ``app`` (``Telegram: #12``)."""
    return f"{app}: #{alert_id}"


def silence_device(
    conn: psycopg.Connection,
    user: Principal,
    alert: AlertRef,
    channel: actions.Channel,
    now: datetime,
) -> tuple[datetime, bool]:
    """Silence the alert's device for two hours: (its end, whether it is new).

    An earlier press's silence still in force (pressed in any chat app) is returned instead.
    """
    assert alert.device_id is not None
    matcher = {"label": "device", "op": "=", "value": alert.device_id}
    comments = [silence_comment(app, alert.id) for app, _ in APPS.values()]
    found = conn.execute(
        PRESSED_SILENCE, {"comments": comments, "matcher": Jsonb([matcher]), "now": now}
    ).fetchone()
    if found is not None:
        return found[1], False
    spec = SilenceSpec.model_validate(
        {
            "matchers": [matcher],
            "starts_at": now,
            "ends_at": now + SILENCE_FOR,
            "comment": silence_comment(APPS[channel][0], alert.id),
        }
    )
    actions.create_silence(conn, spec, actor=user.name, channel=channel, now=now, scope=user.scope)
    return now + SILENCE_FOR, True


def act(
    conn: psycopg.Connection,
    user: Principal,
    alert: AlertRef,
    action: str,
    channel: actions.Channel,
    now: datetime,
    zone: tzinfo,
    lang: str,
) -> Reply | None:
    """Run ``action`` on the alert: None when it was done now, else the reply why not."""
    if action == "ack":
        if alert.acknowledged_by is not None:
            return Reply(
                "already", text(lang, "already_ack", id=alert.id, name=alert.acknowledged_by)
            )
        note = APPS[channel][0]
        result = actions.acknowledge(
            conn, alert.id, actor=user.name, note=note, channel=channel, now=now, scope=user.scope
        )
    elif action == "me":
        if alert.assignee == user.name:
            return Reply("already", text(lang, "already_me", id=alert.id, name=user.name))
        try:
            result = actions.assign(
                conn,
                alert.id,
                assignee=user.name,
                actor=user.name,
                channel=channel,
                now=now,
                scope=user.scope,
            )
        except actions.ActionRefused as exc:  # e.g. the user may not be assigned this alert
            return Reply("refused", exc.message)
    elif alert.device_id is None:
        return Reply("refused", text(lang, "no_device", id=alert.id))
    else:
        ends, created = silence_device(conn, user, alert, channel, now)
        if created:
            return None
        until = ends.astimezone(zone).strftime(TIME_FORMAT)
        device = alert.device_name or alert.device_id
        return Reply("already", text(lang, "already_s2h", device=device, time=until))
    return None if result.ok else Reply("refused", text(lang, "resolved", id=alert.id))


def dispatch(
    conn: psycopg.Connection,
    user: Principal | None,
    press: Press,
    channel: actions.Channel,
    now: datetime,
    zone: tzinfo,
    lang: str,
) -> Reply:
    """Check the account, role and scope of a press, act, and say what happened.

    Runs in the caller's transaction, which holds the alert's press lock until it ends.
    """
    if user is None:
        return Reply("refused", text(lang, "unlinked", channel=channel))
    if not user.can("technician"):
        return Reply("refused", text(lang, "forbidden", name=user.name))
    lock(conn, press.alert_id)
    alert = load(conn, press.alert_id)
    if alert is None:
        return Reply("refused", text(lang, "gone", id=press.alert_id))
    if not user.sees(alert.commune_code):
        return Reply("refused", text(lang, "scope", id=press.alert_id))
    if alert.state == "resolved":
        return Reply("refused", text(lang, "resolved", id=alert.id))
    not_done = act(conn, user, alert, press.action, channel, now, zone, lang)
    if not_done is not None:
        return not_done
    status = text(
        lang,
        press.action,
        name=user.name,
        time=now.astimezone(zone).strftime(TIME_FORMAT),
        device=alert.device_name or alert.device_id,
    )
    return Reply("done", status, f"{ICON[press.action]} {status} (#{alert.id})")
