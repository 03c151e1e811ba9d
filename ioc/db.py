"""PostgreSQL connections: a pool per process, opened by the caller, never at import time."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from ioc.errors import DatabaseUnavailable
from ioc.settings import redact_url


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


class CheckedPool(ConnectionPool):
    """A pool that checks each connection as it hands it out.

    PostgreSQL drops connections on a restart, a failover or ``pg_terminate_backend``; a pool
    that hands one out fails the request that gets it. A connection failing the check is
    replaced; the first one found broken also sweeps the other idle ones at once (the pool
    waits with a growing backoff between failed checks: one wait, not one per connection).
    """

    def __init__(self, conninfo: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("check", self._check_or_sweep)
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
