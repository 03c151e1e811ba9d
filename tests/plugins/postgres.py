"""PostgreSQL fixtures: a migrated template database, and a fresh copy of it per test.

``IOC_TEST_DATABASE_URL`` names the server (any database on it; default the local
``postgres`` database). Each test gets its own database cloned from the template, so tests are
isolated and may run in any order.

``IOC_TEST_TIMESCALEDB=1`` runs the session against a test-owned cluster with TimescaleDB
preloaded instead (``tests/plugins/pgcluster.py``, on a free port; the machine's own cluster
is never reconfigured). Only the tests marked ``both_paths`` are meant for that pass:
``IOC_TEST_TIMESCALEDB=1 python -m pytest -m both_paths`` (what ``.ci/run`` does).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

ADMIN_URL = os.environ.get("IOC_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

# Test directories (and top-level files) whose tests run on both storage paths (plain, then
# TimescaleDB in CI): together they run every SQL statement of storage, ingest, alerts, the
# API, Grafana, the registry and the database roles.
BOTH_PATHS_DIRS = (
    "storage",
    "ingest",
    "api",
    "alerts",
    "grafana",
    "devices",
    "security",
    "test_smoke_foundation.py",
)
# ... except tests that run no product SQL of their own or start private clusters.
NOT_BOTH_PATHS = (
    "test_outages.py",  # a private plain cluster of its own
    "test_contract_docs.py",
    "test_framing.py",
    "test_decode.py",
    "test_schemathesis.py",  # HTTP fuzzing; the API SQL runs in the other API tests
    "test_webhook_listener.py",  # HTTP only
)
# ... and whole folders whose SQL never touches the time-series tables (the chat apps: links,
# presses, outboxes on plain tables).
NOT_BOTH_PATHS_DIRS = (("alerts", "telegram"), ("alerts", "zalo"))
# A template takes no connections: TimescaleDB's launcher starts a scheduler (which keeps a
# connection open) in every database that allows them, and restarts it after
# stop_background_workers(); CREATE DATABASE ... TEMPLATE fails while any session is there.
CLOSE_TEMPLATE = "ALTER DATABASE {} WITH ALLOW_CONNECTIONS false"
OTHER_SESSIONS = """
SELECT pid FROM pg_stat_activity WHERE datname = %(name)s AND pid <> pg_backend_pid()
"""
_cluster: Any = None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_paths: run again on TimescaleDB (IOC_TEST_TIMESCALEDB=1, set by CI)"
    )
    if os.environ.get("IOC_TEST_TIMESCALEDB") != "1" or hasattr(config, "workerinput"):
        return
    from tests.plugins.pgcluster import PgCluster, timescaledb_missing

    missing = timescaledb_missing()
    if missing:
        pytest.exit(f"IOC_TEST_TIMESCALEDB=1 but {missing}", returncode=3)
    global ADMIN_URL, _cluster
    # No scheduler: policy jobs run when a test calls run_job, never behind its back.
    _cluster = PgCluster(timescaledb=True, scheduler=False).create(max_connections=100)
    ADMIN_URL = _cluster.admin_url
    os.environ["IOC_TEST_DATABASE_URL"] = ADMIN_URL


def pytest_unconfigure(config: pytest.Config) -> None:
    global _cluster
    if _cluster is not None:
        _cluster.close()
        _cluster = None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = Path(__file__).resolve().parents[1]
    for item in items:
        try:
            parts = item.path.resolve().relative_to(tests).parts
        except ValueError:
            continue
        if tuple(parts[:2]) in NOT_BOTH_PATHS_DIRS:
            continue
        if parts and parts[0] in BOTH_PATHS_DIRS and item.path.name not in NOT_BOTH_PATHS:
            item.add_marker(pytest.mark.both_paths)


def url_for(name: str) -> str:
    """The test server's URL pointing at database ``name``."""
    return urlsplit(ADMIN_URL)._replace(path=f"/{name}").geturl()


def _admin() -> psycopg.Connection:
    return psycopg.connect(ADMIN_URL, autocommit=True)


def drop_database(name: str) -> None:
    """Drop a test database, disconnecting whoever still uses it."""
    with _admin() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def migrate_database(url: str) -> None:
    """Apply every migration, sync the catalogue and create partitions, like `ioc migrate`."""
    from devices.database import prepare_database

    prepare_database(url, back_days=31, ahead_days=3, create=False)


def quiesce_template(name: str, timeout: float = 30.0) -> None:
    """Close ``name`` to new connections and end the sessions still in it (e.g. a scheduler)."""
    deadline = time.monotonic() + timeout
    with _admin() as admin:
        admin.execute(sql.SQL(CLOSE_TEMPLATE).format(sql.Identifier(name)))
        while pids := [r[0] for r in admin.execute(OTHER_SESSIONS, {"name": name})]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"sessions {pids} still connected to template {name}")
            for pid in pids:
                admin.execute("SELECT pg_terminate_backend(%s, 1000)", (pid,))


@pytest.fixture(scope="session")
def template_db() -> Iterator[str]:
    """Name of a migrated template database, created once per test session."""
    name = f"ioc_tmpl_{uuid.uuid4().hex[:10]}"
    try:
        with _admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        pytest.exit(f"PostgreSQL not reachable at {ADMIN_URL}: {exc}", returncode=3)
    migrate_database(url_for(name))
    quiesce_template(name)
    yield name
    drop_database(name)


def clone_database(template: str, attempts: int = 5) -> str:
    """Create a new database from ``template`` and return its name.

    Retries (bounded) if a session still reached the template before it was closed.
    """
    name = f"ioc_test_{uuid.uuid4().hex[:12]}"
    create = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
        sql.Identifier(name), sql.Identifier(template)
    )
    with _admin() as conn:
        for attempt in range(attempts):
            try:
                conn.execute(create)
                return name
            except psycopg.errors.ObjectInUse:
                if attempt == attempts - 1:
                    raise
                quiesce_template(template)
    return name


@pytest.fixture
def db_url(template_db: str) -> Iterator[str]:
    """URL of a migrated database of this test's own."""
    name = clone_database(template_db)
    yield url_for(name)
    drop_database(name)


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to this test's database."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def empty_db_url() -> Iterator[str]:
    """URL of a database name that does not exist yet (for `ioc migrate` itself)."""
    name = f"ioc_empty_{uuid.uuid4().hex[:12]}"
    yield url_for(name)
    drop_database(name)
