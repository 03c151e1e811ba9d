"""During a database failover the API answers 503 with Retry-After (never 500), then recovers.

A database whose sessions are read-only (``default_transaction_read_only``) refuses writes with
SQLSTATE 25006, as a demoted primary does; tests/ha does the real Patroni failover.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
from psycopg import sql

from tests.api.conftest import A, World
from tests.api.test_pool_reconnect import _terminate_others

READ_ONLY = "ALTER DATABASE {} SET default_transaction_read_only = on"
WRITABLE = "ALTER DATABASE {} RESET default_transaction_read_only"


def test_a_demoted_primary_is_503_with_retry_after_then_recovers(
    client: httpx.Client,
    db: psycopg.Connection,
    world: World,
    as_user: Callable[[str], dict[str, str]],
) -> None:
    headers = as_user("admin")
    body = {
        "matchers": [{"label": "commune", "op": "=", "value": A}],
        "ends_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        "comment": "bảo trì",
    }
    name = sql.Identifier(db.info.dbname)
    db.execute(sql.SQL(READ_ONLY).format(name))
    _terminate_others(db)  # the API's next connections are read-only sessions
    refused = client.post("/api/v1/silences", json=body, headers=headers)
    assert refused.status_code == 503, refused.text
    assert int(refused.headers["Retry-After"]) > 0
    db.execute(sql.SQL(WRITABLE).format(name))
    _terminate_others(db)
    again = client.post("/api/v1/silences", json=body, headers=headers)
    assert again.status_code == 201, again.text
