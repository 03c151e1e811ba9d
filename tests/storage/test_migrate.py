"""`ioc migrate` on either path: the right storage objects, and one line when a migration fails."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import psycopg
import pytest

from ioc import migrate
from ioc.cli import main

BRIN = """
SELECT am.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am am ON am.oid = c.relam
WHERE i.indrelid = 'telemetry_points'::regclass AND c.relname = 'telemetry_points_time_brin'
"""
TIME_BTREES = """
SELECT count(*) FROM pg_index i JOIN pg_attribute a
  ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indrelid = 'telemetry_points'::regclass AND a.attname = 'time'
  AND (SELECT relam FROM pg_class WHERE oid = i.indexrelid) = (SELECT oid FROM pg_am WHERE amname = 'btree')
"""
HYPERTABLES = """
SELECT hypertable_name FROM timescaledb_information.hypertables ORDER BY 1
"""
CAGGS = "SELECT view_name FROM timescaledb_information.continuous_aggregates ORDER BY 1"


def test_migrate_builds_the_path_of_the_server(
    empty_db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IOC_DATABASE_URL", empty_db_url)
    for _ in range(2):  # `ioc migrate` creates the database, then is safe to run again
        with pytest.raises(SystemExit) as exit_info:
            main(["migrate"])
        assert exit_info.value.code == 0, capsys.readouterr()
    assert "schema current" in capsys.readouterr().out
    assert migrate.pending(empty_db_url) == []
    with psycopg.connect(empty_db_url) as conn:
        row = conn.execute("SELECT ioc_timescaledb()").fetchone()
        timescale = bool(row and row[0])
        # One small time index on raw telemetry: BRIN, no B-tree led by time (both paths).
        assert conn.execute(BRIN).fetchone() == ("brin",)
        assert conn.execute(TIME_BTREES).fetchone() == (0,)
        assert conn.execute("SELECT to_regclass('device_events_time_idx')").fetchone() != (None,)
        if timescale:
            assert conn.execute(HYPERTABLES).fetchall() == [
                ("device_events",),
                ("telemetry_points",),
            ]
            assert conn.execute(CAGGS).fetchall() == [
                ("telemetry_cagg_1h",),
                ("telemetry_cagg_5m",),
            ]
        else:
            kind = conn.execute(
                "SELECT relkind FROM pg_class WHERE relname = 'telemetry_points'"
            ).fetchone()
            assert kind == ("p",)
            assert conn.execute("SELECT to_regclass('telemetry_rollup_5m')").fetchone() != (None,)


def test_failed_migration_is_one_line(
    empty_db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(migrate.migrations_dir(), folder)
    (folder / "9999_broken.sql").write_text(
        "CREATE TABLE broken_probe (x int);\nSELECT no_such_column FROM devices;\n"
    )
    monkeypatch.setattr(migrate, "migrations_dir", lambda: str(folder))
    monkeypatch.setenv("IOC_DATABASE_URL", empty_db_url)
    with pytest.raises(SystemExit) as exit_info:
        main(["migrate"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: migration 9999_broken failed and was rolled back: ")
    assert 'column "no_such_column" does not exist' in err[0]
    assert "Traceback" not in err[0]
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("SELECT to_regclass('broken_probe')").fetchone() == (None,)
        # every migration before it stays applied
        assert conn.execute("SELECT to_regclass('telemetry')").fetchone() != (None,)


def test_a_database_migrated_under_old_names_applies_nothing_twice(db_url: str) -> None:
    """Migrations renamed after they shipped: recorded under the new names, none re-run."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        for old, new in migrate.RENAMED.items():  # as a database from before the rename has it
            conn.execute(
                "UPDATE _yoyo_migration SET migration_id = %s, migration_hash = %s"
                " WHERE migration_id = %s",
                (old, hashlib.sha256(old.encode()).hexdigest(), new),
            )
        assert migrate.pending(db_url) == []  # an old name counts as its new one
        before = conn.execute("SELECT count(*) FROM _yoyo_migration").fetchone()
        assert migrate.apply(db_url) == []
        ids = {r[0] for r in conn.execute("SELECT migration_id FROM _yoyo_migration")}
        after = conn.execute("SELECT count(*) FROM _yoyo_migration").fetchone()
    assert before == after
    assert set(migrate.RENAMED.values()) <= ids and not set(migrate.RENAMED) & ids
    assert migrate.record_renames(db_url) == 0  # done once


def test_migration_names_say_what_they_do() -> None:
    """No work-item codes (h21_, issue_...) in the names of the migration files."""
    names = [p.stem for p in Path(migrate.migrations_dir()).glob("*.sql")]
    coded = [n for n in names if re.search(r"_(h\d+[a-z]?|issue\d*|task\d*)_", n)]
    assert names and coded == []
