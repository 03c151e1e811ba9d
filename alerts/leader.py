"""Leader election with a PostgreSQL session advisory lock on a dedicated connection.

One ``ioc alerts`` is active; standbys retry every ``retry_s``. When the leader dies its
connection closes, the server releases the lock, and a standby takes over on its next try.
"""

from __future__ import annotations

import contextlib
import logging
import time

import psycopg

log = logging.getLogger(__name__)

TRY_LOCK_SQL = "SELECT pg_try_advisory_lock(%(key)s)"
# Fencing: a leader checks inside its evaluation transaction that its lock session still holds
# the lock, so a leader whose lock connection died cannot write after a standby took over.
HOLDS_LOCK_SQL = """
SELECT EXISTS (SELECT 1 FROM pg_locks
               WHERE locktype = 'advisory' AND pid = %(pid)s AND granted
                 AND ((classid::bigint << 32) | objid::bigint) = %(key)s)
"""


class LeaderLock:
    """Holds (or keeps trying to take) the engine's advisory lock."""

    def __init__(self, conninfo: str, key: int, retry_s: float) -> None:
        self.conninfo = conninfo
        self.key = key
        self.retry_s = retry_s
        self.conn: psycopg.Connection | None = None
        self.is_leader = False
        self._next_try = 0.0

    @property
    def pid(self) -> int | None:
        """Backend pid of the lock session while leading."""
        return self.conn.info.backend_pid if self.conn is not None and self.is_leader else None

    def ensure(self) -> bool:
        """True while this process leads; otherwise try to take the lock (rate-limited)."""
        if self.is_leader and self.conn is not None:
            try:
                self.conn.execute("SELECT 1")
                return True
            except psycopg.Error as exc:
                log.warning("lost the leader lock connection: %s", exc)
                self.release()
        now = time.monotonic()
        if now < self._next_try:
            return False
        self._next_try = now + self.retry_s
        try:
            if self.conn is None or self.conn.closed:
                self.conn = psycopg.connect(
                    self.conninfo,
                    autocommit=True,
                    connect_timeout=5,
                    keepalives=1,
                    keepalives_idle=5,
                    keepalives_interval=2,
                    keepalives_count=3,
                    application_name="ioc-alerts-leader",
                )
            row = self.conn.execute(TRY_LOCK_SQL, {"key": self.key}).fetchone()
            self.is_leader = bool(row and row[0])
        except psycopg.Error as exc:
            log.warning("leader lock attempt failed: %s", exc)
            self.release()
            return False
        if self.is_leader:
            log.info("this process is now the active alert engine (lock %d)", self.key)
        return self.is_leader

    def holds(self, conn: psycopg.Connection) -> bool:
        """Whether the lock session still holds the lock, as seen from ``conn``."""
        pid = self.pid
        if pid is None:
            return False
        row = conn.execute(HOLDS_LOCK_SQL, {"pid": pid, "key": self.key}).fetchone()
        return bool(row and row[0])

    def release(self) -> None:
        """Give up leadership (closing the session releases the lock)."""
        was_leader = self.is_leader
        self.is_leader = False
        if self.conn is not None:
            with contextlib.suppress(psycopg.Error):
                self.conn.close()
            self.conn = None
        if was_leader:
            log.info("stepped down as active alert engine")
