"""Departed ingest instances: their broker sessions are drained into the database and ended.

A member of the shared subscription that never comes back (a host renamed, workers scaled from
4 to 2, a one-off run against the production broker) keeps its persistent session on the
broker, and the broker keeps routing it a share of the group's messages until the session
expires; they would then be gone. Every instance heartbeats in ``ingest_instances``; a live one
finds members of its group whose heartbeat stopped ``takeover_after_s`` ago, resumes each
session under its client id, takes what was queued (written and acked like any batch), and ends
the session (expiry 0). ``ioc ingest retire NAME`` does the same on an operator's word.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from ingest.mqtt import Consumer, Inbound
from ingest.settings import IngestSettings
from ioc.db import connect

log = logging.getLogger(__name__)

DEPARTED = """
SELECT instance, coalesce(client_id, 'ioc-ingest-' || instance), heartbeat_at
FROM ingest_instances
WHERE instance <> %(me)s AND coalesce(mqtt_group, %(group)s) = %(group)s
  AND retired_at IS NULL AND heartbeat_at < now() - make_interval(secs => %(after)s)
ORDER BY heartbeat_at
"""
ONE = """
SELECT instance, coalesce(client_id, 'ioc-ingest-' || instance), heartbeat_at,
       stopped_at IS NOT NULL
FROM ingest_instances WHERE instance = %(name)s
"""
# Several live instances may notice the same departed one: one drains it at a time.
LOCK = "SELECT pg_try_advisory_lock(hashtext('ioc-ingest-takeover'), hashtext(%(name)s))"
UNLOCK = "SELECT pg_advisory_unlock(hashtext('ioc-ingest-takeover'), hashtext(%(name)s))"
# Retired, unless it came back meanwhile (a newer heartbeat).
FORGET = """
UPDATE ingest_instances SET retired_at = now()
WHERE instance = %(name)s AND heartbeat_at IS NOT DISTINCT FROM %(heartbeat)s
"""


@dataclass(frozen=True)
class Member:
    """A member of the group as ``ingest_instances`` knows it."""

    instance: str
    client_id: str
    heartbeat_at: datetime | None
    stopped: bool = False  # its last heartbeat was a clean stop's


def departed(conn: psycopg.Connection, me: str, group: str, after_s: float) -> list[Member]:
    """Members of ``group`` other than ``me`` whose heartbeat is older than ``after_s``."""
    rows = conn.execute(DEPARTED, {"me": me, "group": group, "after": after_s}).fetchall()
    conn.rollback()
    return [Member(*row) for row in rows]


def member(conn: psycopg.Connection, name: str) -> Member | None:
    """The member called ``name`` (an instance name), if ingest knows it."""
    row = conn.execute(ONE, {"name": name}).fetchone()
    conn.rollback()
    return Member(*row) if row else None


def drain_session(
    make: Callable[[str], Consumer],
    client_id: str,
    quiet_s: float,
    timeout_s: float,
    halt: threading.Event | None = None,
) -> int:
    """Resume ``client_id``'s session, wait until its queue is written and acked (nothing new for
    ``quiet_s``), then end the session. Returns the number of messages taken over."""
    consumer = make(client_id)
    consumer.start()
    deadline = time.monotonic() + timeout_s
    try:
        if not consumer.connected.wait(max(0.0, deadline - time.monotonic())):
            raise TimeoutError(f"could not resume the session {client_id} within {timeout_s} s")
        while time.monotonic() < deadline:
            if halt is not None and halt.is_set():
                raise TimeoutError(f"stopping; the session {client_id} is left for later")
            if consumer.lost:  # its owner is back (the broker hands a session to one client)
                raise TimeoutError(f"the connection as {client_id} was taken back; left alone")
            idle = time.monotonic() - consumer.last_activity
            if consumer.acked >= consumer.received and idle >= quiet_s:
                break
            time.sleep(min(0.1, quiet_s))
        else:
            raise TimeoutError(
                f"session {client_id}: {consumer.received - consumer.acked} message(s) still "
                f"unwritten after {timeout_s} s; left for a later attempt"
            )
        consumer.end_session()
    except BaseException:
        consumer.stop()  # the session stays, with whatever is unacked, for the next attempt
        raise
    log.info("took over %d message(s) of %s and ended its session", consumer.received, client_id)
    return consumer.received


def take_over(
    conn: psycopg.Connection,
    found: Member,
    make: Callable[[str], Consumer],
    quiet_s: float,
    timeout_s: float,
    halt: threading.Event | None = None,
) -> int | None:
    """Drain and end one member's session and mark it retired; None if another instance is on it."""
    if not conn.execute(LOCK, {"name": found.instance}).fetchone()[0]:  # type: ignore[index]
        conn.rollback()
        return None
    conn.commit()
    try:
        taken = drain_session(make, found.client_id, quiet_s, timeout_s, halt)
        conn.execute(FORGET, {"name": found.instance, "heartbeat": found.heartbeat_at})
        conn.commit()
        return taken
    finally:
        conn.execute(UNLOCK, {"name": found.instance})
        conn.commit()


class Takeovers:
    """One ingest service's takeovers: drains feed its writer queue and are acked with it."""

    def __init__(
        self,
        database_url: str,
        consumer: Consumer | None,
        ingest: IngestSettings,
        sink: Callable[[Inbound], None],
        closing: threading.Event,
    ) -> None:
        self.database_url = database_url
        self.consumer = consumer
        self.ingest = ingest
        self.sink = sink
        self.closing = closing
        self.drains: list[Consumer] = []  # departed members' sessions being taken over
        self._thread: threading.Thread | None = None
        # Since when this instance's own heartbeats succeed: after a database outage every
        # heartbeat is stale, so nobody judges others departed before beating long enough itself.
        self._beating_since: float | None = None

    def beating(self, ok: bool = True) -> None:
        """Record the outcome of this instance's own heartbeat."""
        if not ok:
            self._beating_since = None
        elif self._beating_since is None:
            self._beating_since = time.monotonic()

    def ack(self, batch: Iterable[Inbound]) -> None:
        """Acknowledge a written batch's messages that came through a drain."""
        for drain in self.drains:
            drain.ack(batch)

    def join(self, timeout: float) -> None:
        """Wait for a takeover in progress to stop (``closing`` is set)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def retire(self, name: str) -> int:
        """Drain and end instance ``name``'s session now and mark it retired."""
        with connect(self.database_url) as conn:
            found = member(conn, name) or Member(name, f"ioc-ingest-{name}", None)
            if found.heartbeat_at is not None and not found.stopped:
                silent = (datetime.now(UTC) - found.heartbeat_at).total_seconds()
                if silent < 3 * self.ingest.heartbeat_s:
                    raise RuntimeError(
                        f"ingest instance {name} heartbeated {silent:.0f} s ago: it is running; "
                        "stop it first (a retired instance's session is ended)"
                    )
            taken = self._take_over(conn, found)
        if taken is None:
            raise RuntimeError(f"another ingest instance is taking over {name} right now")
        return taken

    def check(self) -> None:
        """Start looking for departed members, unless one is being taken over already."""
        after = self.ingest.takeover_after_s
        if not after or self.consumer is None or not self.consumer.connected.is_set():
            return
        if self._beating_since is None or time.monotonic() - self._beating_since < after:
            return
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._run, name="ingest-takeover", daemon=True)
        self._thread.start()

    def _make_drain(self, client_id: str) -> Consumer:
        if self.consumer is None:
            raise RuntimeError("nothing to take over on the bus: instances share one consumer")
        consumer = Consumer(self.consumer.target, self.ingest, self.sink, client_id)
        self.drains.append(consumer)
        return consumer

    def _take_over(self, conn: psycopg.Connection, found: Member) -> int | None:
        try:
            return take_over(
                conn,
                found,
                self._make_drain,
                self.ingest.drain_quiet_s,
                self.ingest.drain_timeout_s,
                self.closing,
            )
        finally:
            self.drains = [d for d in self.drains if d.takeover != found.client_id]

    def _run(self) -> None:
        try:
            with connect(self.database_url) as conn:
                found = departed(
                    conn, self.ingest.instance, self.ingest.group, self.ingest.takeover_after_s
                )
                for gone in found:
                    if self.closing.is_set():
                        return
                    log.warning(
                        "ingest instance %s departed (last heartbeat %s): taking over its "
                        "broker session",
                        gone.instance,
                        gone.heartbeat_at,
                    )
                    try:
                        self._take_over(conn, gone)
                    except TimeoutError as exc:  # left for the next check
                        log.warning("takeover of %s not finished: %s", gone.instance, exc)
        except Exception:
            log.exception("taking over departed ingest instances failed")
