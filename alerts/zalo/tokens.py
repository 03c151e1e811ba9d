"""The OA's tokens in the database: refreshed before expiry and on -216, rotated atomically.

Zalo's refresh token is single-use: each refresh returns a new one. The refresh happens
inside one transaction holding the row lock (so a storm of -216 answers in every process
refreshes once), and the new pair is committed with that transaction; the previous refresh
token is kept until a call with the new access token succeeds (``proven``), so a new token
Zalo never honoured does not leave us without one. When no token works, the channel is marked
down (``notify_channel_health``) and the engine raises ``channel_down`` on the other channels.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import psycopg
from psycopg_pool import ConnectionPool

from alerts.zalo.api import TokenAnswer, ZaloApi, ZaloError

log = logging.getLogger(__name__)
T = TypeVar("T")

CHANNEL = "zalo"
SEED = """
INSERT INTO ioc_auth.zalo_tokens (app_id, refresh_token) VALUES (%(app)s, %(refresh)s)
ON CONFLICT (app_id) DO NOTHING
"""
LOAD = """
SELECT access_token, access_expires_at, generation FROM ioc_auth.zalo_tokens
WHERE app_id = %(app)s
"""
LOCK = """
SELECT access_token, access_expires_at, generation, refresh_token, previous_refresh_token
FROM ioc_auth.zalo_tokens WHERE app_id = %(app)s FOR UPDATE
"""
SAVE = """
UPDATE ioc_auth.zalo_tokens
SET access_token = %(access)s, access_expires_at = %(expires)s, refresh_token = %(refresh)s,
    previous_refresh_token = %(previous)s, generation = generation + 1,
    refreshed_at = %(now)s, proven_at = NULL, last_error = NULL
WHERE app_id = %(app)s
RETURNING generation
"""
PROVEN = """
UPDATE ioc_auth.zalo_tokens SET previous_refresh_token = NULL, proven_at = %(now)s
WHERE app_id = %(app)s AND generation = %(generation)s AND proven_at IS NULL
"""
FAILED = "UPDATE ioc_auth.zalo_tokens SET last_error = %(error)s WHERE app_id = %(app)s"
DOWN = """
INSERT INTO notify_channel_health (channel, down_since, reason, updated_at)
VALUES (%(channel)s, %(now)s, %(reason)s, %(now)s)
ON CONFLICT (channel) DO UPDATE SET
    down_since = coalesce(notify_channel_health.down_since, EXCLUDED.down_since),
    reason = EXCLUDED.reason, updated_at = EXCLUDED.updated_at
"""
UP = """
UPDATE notify_channel_health SET down_since = NULL, reason = NULL, updated_at = %(now)s
WHERE channel = %(channel)s AND down_since IS NOT NULL
"""


class TokensUnavailable(ZaloError):
    """No access token can be had (no seed, or every refresh token was refused)."""


@dataclass(frozen=True)
class Access:
    """An access token and the generation it belongs to (to refresh it exactly once)."""

    token: str
    generation: int


class TokenStore:
    """Hands out a valid access token; refreshes it (once per generation) when needed."""

    def __init__(
        self,
        pool: ConnectionPool,
        api: ZaloApi,
        app_id: str,
        app_secret: str,
        seed_refresh: str | None,
        margin: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.pool = pool
        self.api = api
        self.app_id = app_id
        self.app_secret = app_secret
        self.seed_refresh = seed_refresh
        self.margin = margin
        self.clock = clock
        self._lock = threading.Lock()  # one refresher per process; the row lock across them
        self._proven = -1
        self._seeded = False

    def access(self) -> Access:
        """A token valid for at least ``margin`` (refreshing first when it is not)."""
        with self.pool.connection() as conn:
            if self.seed_refresh and not self._seeded:
                conn.execute(SEED, {"app": self.app_id, "refresh": self.seed_refresh})
                self._seeded = True
            row = conn.execute(LOAD, {"app": self.app_id}).fetchone()
        if row is None:
            raise TokensUnavailable("zalo: no refresh token (set IOC_ZALO_REFRESH_TOKEN)")
        token, expires, generation = row
        if token and expires is not None and expires - self.margin > self.clock():
            return Access(token, int(generation))
        return self.refresh(int(generation))

    def refresh(self, seen: int) -> Access:
        """Refresh unless another caller already replaced generation ``seen``."""
        with self._lock, self.pool.connection() as conn:
            try:
                with conn.transaction():
                    return self._refresh(conn, seen)
            except TokensUnavailable:
                raise
            except ZaloError as exc:
                if exc.retryable:
                    raise
                self._down(conn, exc.reason)
                raise TokensUnavailable(exc.reason) from None

    def _refresh(self, conn: psycopg.Connection, seen: int) -> Access:
        row = conn.execute(LOCK, {"app": self.app_id}).fetchone()
        if row is None:
            raise TokensUnavailable("zalo: no refresh token (set IOC_ZALO_REFRESH_TOKEN)")
        token, expires, generation, current, previous = row
        now = self.clock()
        if generation != seen and token and expires is not None and expires > now:
            return Access(token, int(generation))  # someone refreshed meanwhile
        answer, used = self._exchange(current, previous)
        new = conn.execute(
            SAVE,
            {
                "app": self.app_id,
                "access": answer.access_token,
                "expires": now + timedelta(seconds=answer.expires_in),
                "refresh": answer.refresh_token,
                "previous": used,
                "now": now,
            },
        ).fetchone()
        assert new is not None
        conn.execute(UP, {"channel": CHANNEL, "now": now})
        log.info("zalo access token refreshed (generation %s)", new[0])
        return Access(answer.access_token, int(new[0]))

    def _exchange(self, current: str, previous: str | None) -> tuple[TokenAnswer, str]:
        """Refresh with the current token; if Zalo refuses it, with the unproven previous one."""
        try:
            return self.api.refresh(self.app_id, self.app_secret, current), current
        except ZaloError as exc:
            if exc.retryable or not previous:
                raise
            log.warning("zalo refused the newest refresh token (%s); trying the previous", exc)
        return self.api.refresh(self.app_id, self.app_secret, previous), previous

    def call(self, fn: Callable[[str], T]) -> T:
        """Run ``fn(token)``; on -216 refresh (once per generation) and run it once more."""
        access = self.access()
        try:
            result = fn(access.token)
        except ZaloError as exc:
            if not exc.token_expired:
                raise
            log.info("zalo access token refused (%s); refreshing", exc.code)
            access = self.refresh(access.generation)
            result = fn(access.token)
        self.proven(access)
        return result

    def proven(self, access: Access) -> None:
        """A call with ``access`` succeeded: its refresh token is the one to keep."""
        if access.generation == self._proven:
            return
        with self.pool.connection() as conn:
            conn.execute(
                PROVEN, {"app": self.app_id, "generation": access.generation, "now": self.clock()}
            )
        self._proven = access.generation

    def _down(self, conn: psycopg.Connection, reason: str) -> None:
        now = self.clock()
        log.error("zalo tokens cannot be refreshed: %s", reason)
        with conn.transaction():
            conn.execute(FAILED, {"app": self.app_id, "error": reason})
            conn.execute(DOWN, {"channel": CHANNEL, "now": now, "reason": reason})
