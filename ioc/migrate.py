"""Schema migrations with yoyo-migrations: versioned ``.sql`` files in ``ioc/migrations``.

Areas add their own files there (``NNNN_area_what.sql``, named for what they do); yoyo applies
them in name order and records them in ``_yoyo_migration``. ``post-apply.sql`` (roles and
grants) runs on every ``ioc migrate``, so grants also cover tables added later.

A file renamed after it shipped is listed in :data:`RENAMED`: a database that applied it under
its old name counts it as applied, and ``ioc migrate`` records the new name (yoyo knows a
migration by its id and the id's SHA-256), so nothing is applied twice.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from yoyo import get_backend, read_migrations
from yoyo.exceptions import BadMigration

from ioc.db import connect
from ioc.errors import DatabaseUnavailable, IocError, SchemaNotCurrent

log = logging.getLogger(__name__)

PARTITIONED_TABLES = ("telemetry_points", "device_events")
ROLES = {
    "ioc_ingest": "ingest_db_password",
    "ioc_app": "app_db_password",
    "ioc_grafana": "grafana_db_password",
}


# Old id → new id: names that carried the work item's code instead of what the file does.
RENAMED = {
    "0601_h21_tail_clamp": "0601_tail_clamp",
    "0610_h15_action_vocabulary": "0610_action_vocabulary",
    "0620_h16_console": "0620_console",
    "0630_h17_collector": "0630_collector",
    "0650_h19i_status_arrival": "0650_status_arrival",
    "0651_h19i_ingest_members": "0651_ingest_members",
    "0652_h19i_latest_bounds": "0652_latest_bounds",
    "0660_h19a_nfc_names": "0660_nfc_names",
    "0670_h20_alerts_notified": "0670_alerts_notified",
}
RENAME_SQL = """
UPDATE _yoyo_migration SET migration_id = %(new)s, migration_hash = %(hash)s
WHERE migration_id = %(old)s
  AND NOT EXISTS (SELECT 1 FROM _yoyo_migration WHERE migration_id = %(new)s)
"""


class MigrationFailed(IocError):
    """A migration (or the post-apply grants) failed; its transaction was rolled back."""


def migrations_dir() -> str:
    """Filesystem path of the packaged migration files."""
    return str(resources.files("ioc") / "migrations")


def yoyo_url(url: str) -> str:
    """yoyo's URL for ours: every libpq parameter as a query argument, which yoyo passes to
    ``psycopg.connect`` as is (its own parser takes one host:port; ours may list several)."""
    params = conninfo_to_dict(url)
    dbname = params.pop("dbname", "") or ""
    return f"postgresql+psycopg:///{quote(str(dbname))}?{urlencode(params)}"


def create_database_if_missing(url: str) -> bool:
    """Create the target database through the ``postgres`` database when it does not exist."""
    name = urlsplit(url).path.lstrip("/")
    if not name:
        return False
    try:
        psycopg.connect(url, connect_timeout=5).close()
        return False
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise DatabaseUnavailable(str(exc).strip()) from exc
    admin_url = urlsplit(url)._replace(path="/postgres").geturl()
    with connect(admin_url, autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            return False
    log.info("created database %s", name)
    return True


def plan(ids: list[str]) -> list[str]:
    """One line per migration id: ``id  first comment line of its file``."""
    base = resources.files("ioc") / "migrations"
    lines = []
    for mid in ids:
        text = (base / f"{mid}.sql").read_text(encoding="utf-8")
        comment = next((x.strip("- ").strip() for x in text.splitlines() if x.startswith("--")), "")
        lines.append(f"{mid}  {comment}".rstrip())
    return lines


APPLIED_SQL = "SELECT migration_id FROM _yoyo_migration"


def pending(url: str) -> list[str]:
    """Ids of migrations not yet applied to the database at ``url`` (reads the applied ids
    only, no yoyo lock row, so the run-time roles may ask; a renamed one counts as applied)."""
    with connect(url) as conn:
        try:
            done = {RENAMED.get(row[0], row[0]) for row in conn.execute(APPLIED_SQL)}
        except psycopg.errors.UndefinedTable:
            done = set()
    return [m.id for m in read_migrations(migrations_dir()) if m.id not in done]


def record_renames(url: str) -> int:
    """Record renamed migrations under their new ids (see :data:`RENAMED`); return how many."""
    with connect(url) as conn, conn.transaction():
        if conn.execute("SELECT to_regclass('_yoyo_migration')").fetchone() == (None,):
            return 0
        renamed = 0
        for old, new in RENAMED.items():
            digest = hashlib.sha256(new.encode("utf-8")).hexdigest()
            cur = conn.execute(RENAME_SQL, {"old": old, "new": new, "hash": digest})
            renamed += cur.rowcount
    if renamed:
        log.info("recorded %d renamed migration(s) under their new names", renamed)
    return renamed


def require_current(url: str) -> None:
    """Raise ``SchemaNotCurrent`` when migrations are pending."""
    todo = pending(url)
    if todo:
        raise SchemaNotCurrent(
            f"database schema is not current ({len(todo)} migration(s) pending, first "
            f"{todo[0]}). Fix: run `ioc migrate`."
        )


def apply(url: str) -> list[str]:
    """Apply pending migrations under yoyo's lock, then the post-apply grants; return ids."""
    record_renames(url)
    backend = get_backend(yoyo_url(url))
    try:
        migrations = read_migrations(migrations_dir())
        with backend.lock(timeout=60):
            todo = backend.to_apply(migrations)
            for migration in todo:
                _apply_one(backend, migration, mark=True)
            for migration in migrations.post_apply:
                _apply_one(backend, migration, mark=False)
        return [m.id for m in todo]
    finally:
        backend.connection.close()


def _apply_one(backend: Any, migration: Any, mark: bool) -> None:
    """Apply one migration; a database error becomes one line naming the migration."""
    try:
        backend.apply_one(migration, mark=mark)
    except BadMigration as exc:
        raise MigrationFailed(f"migration {migration.id} is not valid: {exc}") from exc
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MigrationFailed(
            f"migration {migration.id} failed and was rolled back: {first}"
        ) from exc


def ensure_partitions(conn: psycopg.Connection, back_days: int, ahead_days: int) -> int:
    """Create the missing daily partitions around today; return how many were created."""
    today = datetime.now(UTC).date()
    created = 0
    for table in PARTITIONED_TABLES:
        row = conn.execute(
            "SELECT ioc_ensure_partitions(%s, %s, %s)",
            (table, today - timedelta(days=back_days), today + timedelta(days=ahead_days)),
        ).fetchone()
        created += row[0] if row else 0
    return created


def set_role_passwords(conn: psycopg.Connection, passwords: dict[str, str]) -> list[str]:
    """Give the least-privilege roles LOGIN and the given passwords; return the roles changed.

    Only a SCRAM verifier (libpq's PQencryptPasswordConn, as psql's ``\\password``) goes over
    the wire, so the password never appears in the server's statement log.
    """
    changed = []
    for role, password in passwords.items():
        verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
        conn.execute(
            sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(verifier.decode())
            )
        )
        changed.append(role)
    return changed
