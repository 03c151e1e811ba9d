"""Issue 19 item 12: the first requests after the server dropped the pool's connections succeed.

PostgreSQL drops connections on a restart, a failover or an administrator's
``pg_terminate_backend``; a pool that hands out such a connection fails the request that gets
it. The pools check each connection when it is taken (``ConnectionPool.check_connection``).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg

from ioc.db import open_pool
from tests.api.conftest import World

TERMINATE = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
"""


def _terminate_others(db: psycopg.Connection) -> int:
    row = db.execute(TERMINATE).fetchone()
    assert row is not None
    return int(row[0])


def test_api_requests_after_backends_were_terminated(
    client: httpx.Client,
    db: psycopg.Connection,
    world: World,
    as_user: Callable[[str], dict[str, str]],
) -> None:
    headers = as_user("admin")
    paths = ["/api/v1/devices", "/api/v1/sites", "/api/v1/silences", "/api/v1/alerts"]
    # Fill the pool with several open connections.
    with ThreadPoolExecutor(4) as workers:
        assert all(
            r.status_code == 200
            for r in workers.map(lambda p: client.get(p, headers=headers), paths * 2)
        )
    for _ in range(3):
        assert _terminate_others(db) >= 1
        # First the sequential case (one request gets a dead connection), then a burst.
        first = client.get("/api/v1/devices", headers=headers)
        assert first.status_code == 200, first.text
        with ThreadPoolExecutor(4) as workers:
            codes = [
                r.status_code
                for r in workers.map(lambda p: client.get(p, headers=headers), paths * 2)
            ]
        assert codes == [200] * len(codes)
    assert client.get("/readyz").status_code in (200, 503)  # answered, not a 500


def test_service_pools_replace_dropped_connections(db_url: str, db: psycopg.Connection) -> None:
    """The pool of the alert engine and the demo (ioc.db.open_pool) recovers the same way."""
    pool = open_pool(db_url, max_size=3, name="test-reconnect")
    try:
        held = [pool.getconn() for _ in range(3)]
        for conn in held:
            conn.execute("SELECT 1")
            conn.commit()
            pool.putconn(conn)
        assert _terminate_others(db) >= 1
        for _ in range(5):
            with pool.connection() as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        pool.close()
