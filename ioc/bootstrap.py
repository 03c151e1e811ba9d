"""What only a superuser may do before ``ioc migrate`` runs as the schema owner.

With ``IOC_MIGRATE_ADMIN_URL`` set, ``ioc migrate`` connects there to create the roles (the
owner ``ioc_owner`` with its login, the three run-time roles), the database owned by
``ioc_owner`` and the TimescaleDB extension; every migration then runs as ``ioc_owner``
(``IOC_DATABASE_URL``), so no table is owned by the superuser and no run-time role owns any.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from ioc.db import connect

log = logging.getLogger(__name__)

OWNER = "ioc_owner"
RUNTIME_ROLES = ("ioc_ingest", "ioc_app", "ioc_grafana")
ROLE_EXISTS_SQL = "SELECT 1 FROM pg_roles WHERE rolname = %(name)s"
DATABASE_EXISTS_SQL = "SELECT 1 FROM pg_database WHERE datname = %(name)s"
# Role-level settings need CREATEROLE; post-apply.sql skips them when run by the owner.
GRAFANA_ROLE_SQL = (
    "ALTER ROLE ioc_grafana SET statement_timeout = '10s'",
    "ALTER ROLE ioc_grafana SET idle_in_transaction_session_timeout = '60s'",
    "ALTER ROLE ioc_grafana SET default_transaction_read_only = on",
    "ALTER ROLE ioc_grafana CONNECTION LIMIT 20",
)
TIMESCALEDB_READY_SQL = """
SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
   AND current_setting('shared_preload_libraries', true) LIKE '%%timescaledb%%'
"""


def _verifier(conn: psycopg.Connection, role: str, password: str) -> sql.Literal:
    return sql.Literal(
        conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
    )


def bootstrap(admin_url: str, database_url: str, owner_password: str | None) -> list[str]:
    """Create roles, the database (owned by ``ioc_owner``) and extensions; return what it did."""
    target = urlsplit(database_url)
    database = target.path.lstrip("/") or "ioc"
    done: list[str] = []
    with connect(admin_url, autocommit=True) as conn:
        if not conn.execute(ROLE_EXISTS_SQL, {"name": OWNER}).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(OWNER)))
            done.append(f"role {OWNER}")
        if owner_password:
            conn.execute(
                sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(OWNER), _verifier(conn, OWNER, owner_password)
                )
            )
        # 0001_foundation reads shared_preload_libraries to decide on TimescaleDB.
        conn.execute(sql.SQL("GRANT pg_read_all_settings TO {}").format(sql.Identifier(OWNER)))
        for role in RUNTIME_ROLES:
            if not conn.execute(ROLE_EXISTS_SQL, {"name": role}).fetchone():
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
                done.append(f"role {role}")
        for statement in GRAFANA_ROLE_SQL:
            conn.execute(statement)
        if not conn.execute(DATABASE_EXISTS_SQL, {"name": database}).fetchone():
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(database), sql.Identifier(OWNER)
                )
            )
            done.append(f"database {database}")
    db_admin = urlsplit(admin_url)._replace(path=f"/{database}").geturl()
    with connect(db_admin, autocommit=True) as conn:
        row = conn.execute(TIMESCALEDB_READY_SQL).fetchone()
        if row and row[0]:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            done.append("extension timescaledb")
    log.info("bootstrap: %s", ", ".join(done) or "nothing to do")
    return done
