"""Fixtures for notification tests: a pool, a seeded registry and a loopback receiver."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from tests.alerts.notify.helpers import HttpReceiver, seed_registry


@pytest.fixture
def pool(db_url: str) -> Iterator[ConnectionPool]:
    """A connection pool on this test's database, like the engine's."""
    with ConnectionPool(db_url, min_size=1, max_size=4, open=True) as p:
        p.wait(10)
        yield p


@pytest.fixture
def registry(db: psycopg.Connection) -> psycopg.Connection:
    """The test database with two communes, an uplink and 12 devices behind it."""
    seed_registry(db)
    return db


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    """A loopback HTTP server recording webhook / Telegram requests."""
    server = HttpReceiver().start()
    yield server
    server.stop()
