"""Each run-time database role is refused what it must not do (post-apply.sql)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from ioc import migrate
from tests.plugins.postgres import ADMIN_URL, clone_database, drop_database, url_for

DENIED = psycopg.errors.InsufficientPrivilege
RUNTIME_ROLES = ("ioc_ingest", "ioc_app", "ioc_grafana")


def run_as(conn: psycopg.Connection, role: str, statement: str) -> list[tuple]:
    """Run one statement as ``role`` (SET LOCAL ROLE) in a transaction that is rolled back."""
    with conn.transaction(force_rollback=True):
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        cur = conn.execute(statement)
        return cur.fetchall() if cur.description else []


@pytest.fixture(scope="module")
def shared_db(template_db: str) -> Iterator[psycopg.Connection]:
    """One migrated database for the read-only checks below (each runs in a rolled-back tx)."""
    name = clone_database(template_db)
    with psycopg.connect(url_for(name), autocommit=True) as conn:
        yield conn
    drop_database(name)


GRAFANA_REFUSED = [
    "INSERT INTO communes (code, name) VALUES ('99999', 'x')",
    "UPDATE devices SET name = 'x'",
    "DELETE FROM alerts",
    "TRUNCATE quarantine",
    "DROP TABLE devices",
    "ALTER TABLE devices ADD COLUMN x int",
    "CREATE TABLE grafana_was_here (x int)",
    "SELECT * FROM mqtt_credentials",
    "SELECT * FROM ioc_auth.tokens",
    "SELECT * FROM ioc_auth.users",
    "SELECT * FROM _yoyo_migration",
    "SELECT ioc_ensure_partitions('telemetry_points', current_date, current_date + 400)",
]
INGEST_REFUSED = [
    "DELETE FROM telemetry_points",
    "DELETE FROM quarantine",
    "TRUNCATE device_latest_points",
    "DROP TABLE telemetry_points",
    "ALTER TABLE quarantine ADD COLUMN x int",
    "CREATE TABLE ingest_was_here (x int)",
    "INSERT INTO devices (id, type, commune_code, name, interval_s) "
    "VALUES ('x', 'camera', '21025', 'x', 60)",
    "UPDATE devices SET decommissioned_at = NULL",
    "UPDATE alerts SET state = 'resolved'",
    "SELECT * FROM mqtt_credentials",
    "SELECT * FROM ioc_auth.tokens",
]
APP_REFUSED = [
    "DROP TABLE alerts",
    "DROP VIEW telemetry",
    "ALTER TABLE devices ADD COLUMN x int",
    "ALTER TABLE alerts DISABLE TRIGGER ALL",
    "TRUNCATE alerts",
    "CREATE TABLE app_was_here (x int)",
    "CREATE SCHEMA app_was_here",
    "DELETE FROM audit_log",
    "UPDATE audit_log SET actor = 'someone else'",
    "DELETE FROM _yoyo_migration",
]


@pytest.mark.parametrize("statement", GRAFANA_REFUSED)
def test_grafana_is_read_only_and_sees_no_secrets(
    shared_db: psycopg.Connection, statement: str
) -> None:
    with pytest.raises(DENIED):
        run_as(shared_db, "ioc_grafana", statement)


@pytest.mark.parametrize("statement", INGEST_REFUSED)
def test_ingest_inserts_and_updates_only_its_tables(
    shared_db: psycopg.Connection, statement: str
) -> None:
    with pytest.raises(DENIED):
        run_as(shared_db, "ioc_ingest", statement)


@pytest.mark.parametrize("statement", APP_REFUSED)
def test_app_cannot_drop_alter_or_rewrite_history(
    shared_db: psycopg.Connection, statement: str
) -> None:
    with pytest.raises(DENIED):
        run_as(shared_db, "ioc_app", statement)


def test_roles_can_still_do_their_job(shared_db: psycopg.Connection) -> None:
    """Positive controls: the refusals above are privileges, not broken statements."""
    assert run_as(shared_db, "ioc_grafana", "SELECT count(*) FROM devices") == [(0,)]
    assert run_as(shared_db, "ioc_grafana", "SELECT count(*) FROM telemetry") == [(0,)]
    # Zero-row statements still go through the privilege checks.
    run_as(
        shared_db,
        "ioc_ingest",
        "INSERT INTO quarantine (topic) SELECT topic FROM quarantine WHERE false",
    )
    run_as(shared_db, "ioc_ingest", "UPDATE device_latest_points SET value = value WHERE false")
    run_as(
        shared_db,
        "ioc_ingest",
        "SELECT ioc_ensure_partitions('telemetry_points', current_date, current_date)",
    )
    run_as(shared_db, "ioc_ingest", "CREATE TEMP TABLE staging (x int)")
    run_as(shared_db, "ioc_app", "DELETE FROM silences")
    run_as(shared_db, "ioc_app", "SELECT count(*) FROM mqtt_credentials")
    run_as(
        shared_db,
        "ioc_app",
        "INSERT INTO audit_log (actor) SELECT actor FROM audit_log WHERE false",
    )


def test_no_runtime_role_is_privileged_or_owns_anything(shared_db: psycopg.Connection) -> None:
    rows = shared_db.execute(
        "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication "
        "FROM pg_roles WHERE rolname = ANY(%s)",
        (list(RUNTIME_ROLES),),
    ).fetchall()
    assert len(rows) == 3
    for name, *flags in rows:
        assert not any(flags), name
    owned = shared_db.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
        "WHERE r.rolname = ANY(%s) AND c.relpersistence <> 't'",
        (list(RUNTIME_ROLES),),
    ).fetchall()
    assert owned == []


def test_migrate_takes_back_objects_a_runtime_role_came_to_own(
    db: psycopg.Connection, db_url: str
) -> None:
    db.execute("CREATE TABLE handmade (x int)")
    db.execute("ALTER TABLE handmade OWNER TO ioc_app")
    with pytest.raises(psycopg.errors.UndefinedTable):  # the owner could drop it...
        run_as(db, "ioc_app", "DROP TABLE handmade; SELECT * FROM handmade")
    migrate.apply(db_url)  # ...until post-apply runs again
    with pytest.raises(DENIED):
        run_as(db, "ioc_app", "DROP TABLE handmade")


def test_grafana_limits_are_set_on_the_role(shared_db: psycopg.Connection) -> None:
    config, limit = shared_db.execute(
        "SELECT rolconfig, rolconnlimit FROM pg_roles WHERE rolname = 'ioc_grafana'"
    ).fetchone() or (None, None)
    assert "statement_timeout=10s" in config
    assert "default_transaction_read_only=on" in config
    assert 0 < limit <= 50


@pytest.fixture
def grafana_login(db: psycopg.Connection, db_url: str) -> Iterator[psycopg.Connection]:
    """A real login as ioc_grafana (role settings apply at login, not on SET ROLE).

    The role is cluster-wide: its LOGIN flag and password hash are restored afterwards, and an
    advisory lock keeps concurrent test runs from changing the password under each other.
    """
    password = secrets.token_urlsafe(16)
    name = urlsplit(db_url).path.lstrip("/")
    # This database only: 300 ms instead of the role's 10 s, so the test stays fast.
    db.execute(
        sql.SQL("ALTER ROLE ioc_grafana IN DATABASE {} SET statement_timeout = '300ms'").format(
            sql.Identifier(name)
        )
    )
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_advisory_lock(hashtext('ioc.tests.grafana_login'))")
        try:
            saved = admin.execute(
                "SELECT rolcanlogin, rolpassword FROM pg_authid WHERE rolname = 'ioc_grafana'"
            ).fetchone()
            admin.execute(
                sql.SQL("ALTER ROLE ioc_grafana LOGIN PASSWORD {}").format(sql.Literal(password))
            )
            parts = urlsplit(db_url)
            url = parts._replace(
                netloc=f"ioc_grafana:{password}@{parts.hostname}:{parts.port or 5432}"
            ).geturl()
            conn = psycopg.connect(url, autocommit=True)
        finally:
            assert saved is not None
            admin.execute(
                sql.SQL("ALTER ROLE ioc_grafana {} PASSWORD {}").format(
                    sql.SQL("LOGIN" if saved[0] else "NOLOGIN"),
                    sql.Literal(saved[1]) if saved[1] else sql.NULL,
                )
            )
            admin.execute("SELECT pg_advisory_unlock(hashtext('ioc.tests.grafana_login'))")
    with conn:
        yield conn


def test_grafana_login_gets_a_read_only_session_and_a_statement_timeout(
    grafana_login: psycopg.Connection,
) -> None:
    conn = grafana_login
    assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
    started = time.monotonic()
    with pytest.raises(psycopg.errors.QueryCanceled):
        conn.execute("SELECT pg_sleep(30)")
    assert time.monotonic() - started < 10
    with pytest.raises((DENIED, psycopg.errors.ReadOnlySqlTransaction)):
        conn.execute("INSERT INTO communes (code, name) VALUES ('99999', 'x')")
    assert conn.execute("SELECT count(*) FROM communes").fetchone() == (0,)
