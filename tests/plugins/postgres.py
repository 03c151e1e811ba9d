"""PostgreSQL fixtures: a migrated template database, and a fresh copy of it per test.

``IOC_TEST_DATABASE_URL`` names the server (any database on it; default the local
``postgres`` database). Each test gets its own database cloned from the template, so tests are
isolated and may run in any order.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

ADMIN_URL = os.environ.get("IOC_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


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
    from devices.store import sync_catalogue
    from ioc import migrate

    migrate.apply(url)
    with psycopg.connect(url) as conn:
        sync_catalogue(conn)
        migrate.ensure_partitions(conn, 31, 3)


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
    yield name
    drop_database(name)


def clone_database(template: str) -> str:
    """Create a new database from ``template`` and return its name."""
    name = f"ioc_test_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
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
