"""ioc.db's failover policy against a real server: what counts as a failover, and the retry.

A session with ``default_transaction_read_only=on`` refuses writes with SQLSTATE 25006 exactly
like a demoted primary or a replica; tests/ha covers the real Patroni failover.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from ioc.db import CheckedPool, is_failover, with_failover
from ioc.migrate import yoyo_url

READ_ONLY = "-c default_transaction_read_only=on"
WRITE = "CREATE TEMP TABLE t (x int)"


def test_a_read_only_server_counts_as_a_failover(db_url: str) -> None:
    with (
        psycopg.connect(db_url, options=READ_ONLY) as conn,
        pytest.raises(psycopg.Error) as refused,
    ):
        conn.execute("INSERT INTO communes (code, name) VALUES ('x', 'x')")
    assert refused.value.sqlstate == "25006"
    assert is_failover(refused.value)
    assert not is_failover(psycopg.errors.UniqueViolation("a poison row, not a failover"))


def test_with_failover_drops_a_read_only_connection_and_retries(db_url: str) -> None:
    opened: list[int] = []

    def configure(conn: psycopg.Connection) -> None:
        opened.append(conn.info.backend_pid)
        if len(opened) == 1:  # the first connection lands on a "replica"
            conn.execute("SET default_transaction_read_only = on")
            conn.commit()

    pool: ConnectionPool = CheckedPool(db_url, min_size=1, max_size=2, configure=configure)
    with pool:
        pool.wait(10)
        tries: list[int] = []

        def work(conn: psycopg.Connection) -> int:
            tries.append(conn.info.backend_pid)
            with conn.transaction():
                conn.execute("CREATE TEMP TABLE IF NOT EXISTS t (x int)")
            return len(tries)

        assert with_failover(pool, work, 10, what="test") == 2
    assert tries[0] == opened[0] and tries[1] != opened[0], "the read-only one was reused"


def test_with_failover_gives_up_after_its_deadline(db_url: str) -> None:
    pool: ConnectionPool = CheckedPool(
        db_url, min_size=1, max_size=1, kwargs={"options": READ_ONLY}
    )
    with pool:
        pool.wait(10)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            with_failover(pool, lambda c: c.execute(WRITE), 1.0, what="test")


def test_migrations_take_a_multi_host_url() -> None:
    url = "postgresql://u:p%40ss@h1:5432,h2:5433/ioc?target_session_attrs=read-write"
    yoyo = yoyo_url(url)
    assert yoyo.startswith("postgresql+psycopg:///ioc?")
    for part in ("host=h1%2Ch2", "port=5432%2C5433", "target_session_attrs=read-write", "user=u"):
        assert part in yoyo
