"""One verified webhook event: remember the interaction, link (``/lienket CODE``), or act on a
button press (its ``oa.query.hide`` payload arrives as the text of ``user_send_text``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

import psycopg

from alerts.chatops import links
from alerts.chatops.acts import dispatch
from alerts.chatops.signed import ACTIONS, decode
from alerts.chatops.texts import text
from alerts.zalo.window import touch
from ioc.ops.access import Principal
from ioc.ops.actions import Channel
from ioc.ops.history import audit

log = logging.getLogger(__name__)

CHANNEL: Channel = "zalo"
LINK_COMMAND = "/lienket"
MAX_TEXT = 2000
PRINCIPAL = """
SELECT u.id FROM ioc_auth.zalo_links l JOIN ioc_auth.users u ON u.id = l.user_id
WHERE l.zalo_user_id = %(zalo)s
"""
UNLINK = "DELETE FROM ioc_auth.zalo_links WHERE user_id = %(user_id)s OR zalo_user_id = %(zalo)s"
LINK = "INSERT INTO ioc_auth.zalo_links (zalo_user_id, user_id) VALUES (%(zalo)s, %(user_id)s)"
PRESS = """
INSERT INTO ioc_auth.zalo_presses (alert_id, action, zalo_user_id, actor, pressed_at)
VALUES (%(alert)s, %(action)s, %(zalo)s, %(actor)s, %(now)s)
ON CONFLICT DO NOTHING RETURNING alert_id
"""
EARLIER = """
SELECT actor, pressed_at FROM ioc_auth.zalo_presses
WHERE alert_id = %(alert)s AND action = %(action)s AND zalo_user_id = %(zalo)s
"""


@dataclass
class Handled:
    """What an event came to (stored in the inbox) and the replies to send after commit."""

    outcome: str
    replies: list[tuple[str, str]] = field(default_factory=list)


class EventHandler:
    """Handles events on the caller's connection (inside the inbox transaction)."""

    def __init__(
        self,
        key: bytes,
        zone: tzinfo,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.key = key
        self.zone = zone
        self.clock = clock

    def handle(self, conn: psycopg.Connection, event: dict[str, Any]) -> Handled:
        """Dispatch one event (unknown kinds only count as an interaction)."""
        sender = event.get("sender")
        user_id = sender.get("id") if isinstance(sender, dict) else None
        name = event.get("event_name")
        if not isinstance(user_id, str | int) or not isinstance(name, str):
            return Handled("ignored: no sender")
        zalo_id = str(user_id)[:64]
        now = self.clock()
        if name.startswith("user_send_") or name == "follow":
            # Only what the user does opens the window; receipts (user_seen_message,
            # user_received_message) do not.
            touch(conn, zalo_id, now, name)
        message = event.get("message")
        body = message.get("text") if isinstance(message, dict) else None
        if name != "user_send_text" or not isinstance(body, str):
            return Handled(f"interaction: {name[:40]}")
        body = body.strip()[:MAX_TEXT]
        if body.lower().startswith(LINK_COMMAND):
            return self.link(conn, zalo_id, body[len(LINK_COMMAND) :].strip())
        if body.split(":", 1)[0] in ACTIONS and ":" in body:
            return self.press(conn, zalo_id, body, now)
        return Handled("text")

    def link(self, conn: psycopg.Connection, zalo_id: str, code: str) -> Handled:
        """``/lienket CODE`` links this Zalo user to the code's console user."""
        if not code:
            return Handled("link: no code", [(zalo_id, text("vi", "help"))])
        with conn.transaction():
            user_id = links.consume(conn, code.split()[0])
            found = links.user(conn, user_id) if user_id is not None else None
            if found is None:
                return Handled("link: bad code", [(zalo_id, text("vi", "bad_code"))])
            conn.execute(UNLINK, {"user_id": found.user_id, "zalo": zalo_id})
            conn.execute(LINK, {"user_id": found.user_id, "zalo": zalo_id})
            audit(conn, found.name, "link", "zalo", zalo_id, None, {"channel": CHANNEL})
        return Handled(f"linked: {found.name}", [(zalo_id, text("vi", "linked", name=found.name))])

    def press(self, conn: psycopg.Connection, zalo_id: str, body: str, now: datetime) -> Handled:
        """A button payload: verify, check and act once; answer who did what and when."""
        press = decode(self.key, body)
        if press is None:
            log.warning("zalo: forged or altered button payload from %s", zalo_id)
            return Handled("refused: forged", [(zalo_id, text("vi", "invalid"))])
        user = self.principal(conn, zalo_id)
        params = {"alert": press.alert_id, "action": press.action, "zalo": zalo_id, "now": now}
        result = Handled("refused")
        with conn.transaction() as tx:
            if user is not None:
                first = conn.execute(PRESS, {**params, "actor": user.name}).fetchone()
                if first is None:  # the same button again: it acted already
                    actor, at = conn.execute(EARLIER, params).fetchone() or (user.name, now)
                    when = at.astimezone(self.zone).strftime("%H:%M %d/%m/%Y")
                    again = text("vi", "again", name=actor, time=when, id=press.alert_id)
                    result = Handled("refused: replayed", [(zalo_id, again)])
                    raise psycopg.Rollback(tx)
            reply = dispatch(conn, user, press, CHANNEL, now, self.zone, "vi")
            if not reply.done:
                why = "unlinked" if user is None else reply.text[:60]
                result = Handled(f"{reply.outcome}: {why}", [(zalo_id, reply.text)])
                raise psycopg.Rollback(tx)
            said = reply.line or reply.text
            result = Handled(f"done: {press.action} #{press.alert_id}", [(zalo_id, said)])
        return result

    def principal(self, conn: psycopg.Connection, zalo_id: str) -> Principal | None:
        """The active product user linked to this Zalo user, or None."""
        row = conn.execute(PRINCIPAL, {"zalo": zalo_id}).fetchone()
        return links.user(conn, int(row[0])) if row else None
