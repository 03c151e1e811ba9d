"""The Zalo webhook: verify, queue, answer 200 at once; a worker handles the queue.

Zalo posts OA events to the URL set in the app (your HTTPS reverse proxy, forwarding to
``IOC_ZALO_WEBHOOK_LISTEN``) and wants 200 within 2 s. A request is accepted only with
``X-ZEvent-Signature: mac=sha256(app_id + raw body + timestamp + OA secret key)`` (compared in
constant time), the configured app id, and a timestamp within ``IOC_ZALO_EVENT_MAX_AGE_S``.
Accepted events go to ``ioc_auth.zalo_inbox`` (a redelivery is a no-op) and every
``ioc alerts`` instance drains it (``SKIP LOCKED``), so an answer never waits on the actions or on Zalo.
The listener is the chat apps' one (``alerts.chatops.listener``: an ASGI app on the bounded
server of ``ioc.boundedhttp``): a connection cap, one deadline for a request's headers and
body, a body cap, a listen backlog of 128.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from alerts.chatops.listener import Answer, Headers, webhook_listener
from alerts.zalo.api import ZaloError
from alerts.zalo.handler import EventHandler, Handled
from alerts.zalo.tokens import TokenStore

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-ZEvent-Signature"
MAX_BODY = 64 * 1024  # OA events are small; anything bigger is not from Zalo
MAX_CONNECTIONS = 64  # open connections served; more get 503 at once
REQUEST_DEADLINE_S = 5.0  # for a request's headers and body, however they are paced
MAX_BACKLOG = 10_000  # queued events; beyond it Zalo is told to retry later (503)
BATCH = 20
KEEPALIVE_S = 3600.0
INBOX_DAYS = 7  # handled events are kept this long (what each came to, for support)
QUEUE = """
INSERT INTO ioc_auth.zalo_inbox (event_key, event)
SELECT %(key)s, %(event)s
WHERE (SELECT count(*) FROM ioc_auth.zalo_inbox WHERE processed_at IS NULL) < %(cap)s
ON CONFLICT (event_key) DO NOTHING
RETURNING event_key
"""
PURGE = """
DELETE FROM ioc_auth.zalo_inbox
WHERE processed_at < now() - make_interval(days => %(days)s)
"""
SEEN = "SELECT 1 FROM ioc_auth.zalo_inbox WHERE event_key = %(key)s"
CLAIM = """
SELECT event_key, event FROM ioc_auth.zalo_inbox WHERE processed_at IS NULL
ORDER BY received_at LIMIT %(n)s FOR UPDATE SKIP LOCKED
"""
DONE = """
UPDATE ioc_auth.zalo_inbox SET processed_at = now(), outcome = %(outcome)s
WHERE event_key = %(key)s
"""


@dataclass(frozen=True)
class Verdict:
    """The HTTP status for a request, why, and the event to queue when accepted."""

    status: int
    reason: str
    event: dict[str, Any] | None = None


def signature(app_id: str, body: str, timestamp: str, oa_secret: str) -> str:
    """Zalo's event MAC: hex SHA-256 of app id, raw body, timestamp and OA secret key."""
    return hashlib.sha256((app_id + body + timestamp + oa_secret).encode("utf-8")).hexdigest()


def verify(
    raw: bytes, header: str | None, app_id: str, oa_secret: str, now_ms: int, max_age_ms: int
) -> Verdict:
    """Whether a request body and signature are Zalo's, recent, and for our app."""
    try:
        body = raw.decode("utf-8")
        event = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return Verdict(400, "not JSON")
    if not isinstance(event, dict):
        return Verdict(400, "not an object")
    if "\x00" in body or "\\u0000" in body:
        return Verdict(400, "NUL character")  # PostgreSQL text and jsonb cannot hold it
    ts, given_app = event.get("timestamp"), event.get("app_id")
    if not isinstance(ts, str | int) or isinstance(ts, bool) or not str(ts).isdigit():
        return Verdict(400, "no timestamp")
    if not isinstance(given_app, str | int) or isinstance(given_app, bool):
        return Verdict(400, "no app_id")
    mac = (header or "").strip()
    mac = mac[4:] if mac.startswith("mac=") else mac
    expected = signature(str(given_app), body, str(ts), oa_secret)
    if not hmac.compare_digest(mac.encode("utf-8", "replace"), expected.encode()):
        return Verdict(403, "bad signature")
    if str(given_app) != app_id:
        return Verdict(403, "another app")
    if abs(now_ms - int(str(ts)[:16])) > max_age_ms:
        return Verdict(403, "stale timestamp")
    return Verdict(200, "ok", event)


def event_key(event: dict[str, Any], raw: bytes) -> str:
    """Zalo's message id when there is one, else the body's digest (redeliveries match)."""
    message = event.get("message")
    msg_id = message.get("msg_id") if isinstance(message, dict) else None
    if isinstance(msg_id, str) and 0 < len(msg_id) <= 128:
        return f"msg:{msg_id}"
    return "sha256:" + hashlib.sha256(raw).hexdigest()


class ZaloWebhook:
    """The HTTP server for Zalo's POSTs and the worker that handles the queued events."""

    def __init__(
        self,
        pool: ConnectionPool,
        tokens: TokenStore,
        handler: EventHandler,
        app_id: str,
        oa_secret: str,
        listen: str,
        path: str,
        max_age_s: float,
        interval_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.pool = pool
        self.tokens = tokens
        self.handler = handler
        self.app_id = app_id
        self.oa_secret = oa_secret
        self.path = path
        self.max_age_ms = int(max_age_s * 1000)
        self.interval_s = interval_s
        self.clock = clock
        self.send_reply = self._reply
        self.server = webhook_listener(
            listen,
            path,
            self.answer,
            name="zalo-webhook",
            max_body=MAX_BODY,
            max_connections=MAX_CONNECTIONS,
            deadline_s=REQUEST_DEADLINE_S,
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        """The port actually listened on (for ``:0``)."""
        return self.server.port

    def accept(self, raw: bytes, header: str | None) -> Verdict:
        """Verify a request and queue its event (the whole of what a request waits for)."""
        now_ms = int(self.clock().timestamp() * 1000)
        verdict = verify(raw, header, self.app_id, self.oa_secret, now_ms, self.max_age_ms)
        if verdict.event is None:
            return verdict
        key = event_key(verdict.event, raw)
        try:
            with self.pool.connection(timeout=1.0) as conn:
                queued = conn.execute(
                    QUEUE, {"key": key, "event": Jsonb(verdict.event), "cap": MAX_BACKLOG}
                ).fetchone()
                if queued is None and conn.execute(SEEN, {"key": key}).fetchone() is None:
                    return Verdict(503, "backlog full")
        except psycopg.Error as exc:
            log.error("zalo webhook: cannot queue event: %s", exc)
            return Verdict(503, "database unavailable")
        except Exception as exc:  # pool timeout
            log.error("zalo webhook: cannot queue event: %s", type(exc).__name__)
            return Verdict(503, "busy")
        self._wake.set()
        return Verdict(200, "queued" if queued else "duplicate")

    def answer(self, raw: bytes, headers: Headers) -> Answer:
        """The listener's answer to a request: the verdict of ``accept``."""
        verdict = self.accept(raw, headers.get(SIGNATURE_HEADER))
        if verdict.status != 200:
            log.warning("zalo webhook refused (%d): %s", verdict.status, verdict.reason)
        return verdict.status, {"status": verdict.reason}

    def drain_once(self) -> int:
        """Handle up to one batch of queued events; return how many."""
        replies: list[tuple[str, str]] = []
        with self.pool.connection() as conn, conn.transaction():
            rows = conn.execute(CLAIM, {"n": BATCH}).fetchall()
            for key, event in rows:
                try:
                    with conn.transaction():
                        handled = self.handler.handle(conn, event)
                except Exception as exc:  # one bad event costs only itself
                    log.exception("zalo event %s failed", key)
                    handled = Handled(f"error: {type(exc).__name__}")
                conn.execute(DONE, {"key": key, "outcome": handled.outcome[:200]})
                replies.extend(handled.replies)
        for user_id, message in replies:
            try:
                self.send_reply(user_id, message)
            except ZaloError as exc:
                log.warning("zalo reply to %s failed: %s", user_id, exc)
        return len(rows)

    def _reply(self, user_id: str, message: str) -> None:
        self.tokens.call(lambda token: self.tokens.api.send_cs(token, user_id, {"text": message}))

    def _work(self) -> None:
        checked = -KEEPALIVE_S
        while not self._stop.is_set():
            if time.monotonic() - checked >= KEEPALIVE_S:
                # A quiet OA still refreshes before expiry: an unused refresh token expires.
                checked = time.monotonic()
                try:
                    self.tokens.access()
                except ZaloError as exc:
                    log.warning("zalo token check failed: %s", exc)
                try:
                    with self.pool.connection() as conn:
                        conn.execute(PURGE, {"days": INBOX_DAYS})
                except Exception:
                    log.exception("zalo inbox purge failed")
            try:
                if self.drain_once() >= BATCH:
                    continue
            except Exception:
                log.exception("zalo inbox worker failed")
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def start(self) -> None:
        """Serve webhook requests and handle the queue in background threads."""
        self.server.start()
        thread = threading.Thread(target=self._work, name="zalo-inbox", daemon=True)
        thread.start()
        self._threads.append(thread)
        log.info("zalo webhook listening on port %d, path %s", self.port, self.path)

    def stop(self) -> None:
        """Stop serving and working."""
        self._stop.set()
        self._wake.set()
        self.server.stop()
        for thread in self._threads:
            thread.join(timeout=2.0)
        self.tokens.api.close()
