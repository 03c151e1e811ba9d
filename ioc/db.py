"""PostgreSQL connections: a pool per process, opened by the caller, never at import time.

Also the one home of the failover policy. Every process names all the servers of a Patroni
cluster in one URL with ``target_session_attrs=read-write`` (libpq tries them in turn and keeps
the primary). A failover or switchover shows up as one of the ``FAILOVER`` errors below: the
work in flight is retried, idempotently, on a fresh connection (``with_failover``, bounded by
the caller: a notification's lease; ingest retries its unacknowledged batch until it is
written); a connection that found a read-only server is dropped, never reused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from ioc.errors import ConfigError, DatabaseUnavailable
from ioc.settings import redact_url

log = logging.getLogger(__name__)
T = TypeVar("T")

# The server went away (connection lost, admin/crash shutdown 57P01/57P02, starting up 57P03,
# every libpq connection failure; psycopg_pool.PoolTimeout too) or is no longer the primary
# (25006 read_only_sql_transaction: a demoted primary or a replica reached by a stale
# connection). Each is worth retrying the same work on a new connection.
FAILOVER: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    psycopg.errors.ReadOnlySqlTransaction,
    DatabaseUnavailable,
)
FAILOVER_DEFAULT_S = 60.0


def is_failover(exc: BaseException) -> bool:
    """Whether ``exc`` means the primary is gone or changing (retry on a new connection)."""
    return isinstance(exc, FAILOVER)


def failover_retrying(
    deadline_s: float = FAILOVER_DEFAULT_S, *, what: str = "database work"
) -> Retrying:
    """A tenacity policy retrying ``FAILOVER`` errors with backoff (0.1 s up to 2 s) for at
    most ``deadline_s``, then re-raising the last error."""

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s: database unavailable (%s); retry %d in %.1fs",
            what,
            str(exc).strip().splitlines()[0] if exc and str(exc).strip() else repr(exc),
            state.attempt_number,
            state.upcoming_sleep,
        )

    return Retrying(
        retry=retry_if_exception_type(FAILOVER),
        wait=wait_exponential(multiplier=0.1, max=2.0),
        stop=stop_after_delay(deadline_s),
        before_sleep=before_sleep,
        reraise=True,
    )


def with_failover(
    pool: ConnectionPool,
    work: Callable[[psycopg.Connection], T],
    deadline_s: float = FAILOVER_DEFAULT_S,
    *,
    what: str = "database work",
) -> T:
    """Run ``work`` (idempotent, its own transaction) on a pool connection, again on a new
    connection after a failover error, for at most ``deadline_s``."""
    for attempt in failover_retrying(deadline_s, what=what):
        with attempt, pool.connection() as conn:
            try:
                return work(conn)
            except psycopg.errors.ReadOnlySqlTransaction:
                conn.close()  # a live connection to a replica: the pool must not hand it out
                raise
    raise AssertionError("unreachable: tenacity re-raises the last error")


def connect(url: str, *, autocommit: bool = False, timeout: float = 5.0) -> psycopg.Connection:
    """Open one connection, turning connection failures into a message that says what to do."""
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=max(1, int(timeout)))
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(explain_connect_error(url, exc)) from exc


def explain_connect_error(url: str, exc: Exception) -> str:
    """A one-paragraph diagnosis of a failed connection, with the fix to try."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
    where = redact_url(url)
    if "does not exist" in text and "database" in text:
        hint = "run `ioc migrate`, which creates the database when the role may"
    elif "password authentication failed" in text or "no password supplied" in text:
        hint = "check the user and password in IOC_DATABASE_URL"
    elif "Connection refused" in text or "could not connect" in text or "timeout" in text:
        hint = (
            "start PostgreSQL or point IOC_DATABASE_URL at a running server "
            "(or use `ioc demo`, which starts an embedded one)"
        )
    else:
        hint = "check IOC_DATABASE_URL"
    return f"cannot connect to PostgreSQL at {where}: {text}. Fix: {hint}."


def require_primary(url: str, command: str) -> None:
    """Refuse (one line) when ``url`` reaches a replica: ``command`` writes."""
    with connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    if row and row[0]:
        raise ConfigError(
            f"`{command}` refused: {redact_url(url)} reaches a read-only replica "
            "(pg_is_in_recovery). Fix: point IOC_DATABASE_URL at the primary, or list every "
            "node with target_session_attrs=read-write."
        )


class CheckedPool(ConnectionPool):
    """A pool that checks each connection as it hands it out.

    PostgreSQL drops connections on a restart, a failover or ``pg_terminate_backend``; a pool
    that hands one out fails the request that gets it. A connection failing the check is
    replaced; the first one found broken also sweeps the other idle ones at once (the pool
    waits with a growing backoff between failed checks: one wait, not one per connection).
    """

    def __init__(self, conninfo: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("check", self._check_or_sweep)
        # psycopg_pool doubles the wait between reconnection attempts (1, 2, 4, 8, 16 s ...)
        # until reconnect_timeout: after a 20 s failover the next attempt could be 16 s away.
        # A short chain gives up early instead, and the next request starts a new one at 1 s.
        kwargs.setdefault("reconnect_timeout", 5.0)
        super().__init__(conninfo, **kwargs)

    def _check_or_sweep(self, conn: psycopg.Connection) -> None:
        try:
            ConnectionPool.check_connection(conn)
        except psycopg.Error:
            self.check()
            raise


def open_pool(
    url: str, *, max_size: int = 8, min_size: int = 1, name: str = "ioc"
) -> ConnectionPool:
    """Open a connection pool and wait until it has a working connection."""
    pool = CheckedPool(url, min_size=min_size, max_size=max_size, name=name, open=False)
    pool.open()
    try:
        pool.wait(timeout=10)
    except Exception as exc:
        pool.close()
        raise DatabaseUnavailable(explain_connect_error(url, exc)) from exc
    return pool
