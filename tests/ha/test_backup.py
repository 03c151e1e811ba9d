"""Backups of the HA layout: pg_basebackup + the cluster's WAL archive restore to a point after
the base backup (what docs/ha.md tells people to do)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ioc.ha.node import as_postgres_prefix, pg_bindir
from ioc.ports import free_port
from tests.ha.conftest import Ha
from tests.util import wait_until

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def restore_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ioc-restore-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def archived(url: str, segment: str) -> bool:
    """Whether the primary archived WAL segment ``segment`` (or a later one)."""
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
    return bool(row and row[0] and row[0] >= segment)


def test_base_backup_plus_wal_archive_restores_past_the_backup(ha: Ha, restore_dir: Path) -> None:
    data = restore_dir / "data"
    bindir = Path(pg_bindir())
    # The base backup, taken from the primary through the same multi-host URL as the product.
    subprocess.run(
        [
            str(bindir / "pg_basebackup"),
            "-d",
            ha.url,
            "-D",
            str(data),
            "-X",
            "stream",
            "-c",
            "fast",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    # Written after the backup: only the WAL archive has it.
    with psycopg.connect(ha.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE restore_probe AS SELECT 42 AS answer")
        row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
    assert row is not None
    wait_until(lambda: archived(ha.url, row[0]), 60, 0.3, message=f"{row[0]} archived")

    (data / "recovery.signal").touch()
    (data / "standby.signal").unlink(missing_ok=True)
    port = free_port()
    options = " ".join(
        [
            f"-c port={port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={restore_dir}",
            "-c archive_mode=off",
            "-c synchronous_standby_names=''",
            "-c primary_conninfo=''",
            f"-c restore_command='cp {ha.dir / 'wal-archive'}/%f %p'",
            "-c recovery_target_action=promote",
            f"-c hba_file={data / 'pg_hba.conf'}",
            f"-c ident_file={data / 'pg_ident.conf'}",
        ]
    )
    data.chmod(0o700)
    pg_ctl = [*as_postgres_prefix(), str(bindir / "pg_ctl"), "-D", str(data)]
    log = restore_dir / "restore.log"
    subprocess.run(
        [*pg_ctl, "-l", str(log), "-o", options, "-w", "-t", "120", "start"],
        check=True,
        capture_output=True,
        timeout=150,
    )
    try:
        url = f"postgresql://postgres@127.0.0.1:{port}/ioc"
        with psycopg.connect(url, autocommit=True) as conn:
            wait_until(
                lambda: conn.execute("SELECT NOT pg_is_in_recovery()").fetchone() == (True,),
                60,
                0.2,
                message="restored server promoted",
            )
            answer = conn.execute("SELECT answer FROM restore_probe").fetchone()
            migrations = conn.execute("SELECT count(*) FROM _yoyo_migration").fetchone()
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], capture_output=True, timeout=60)
    assert answer == (42,), log.read_text()[-2000:]
    assert migrations is not None and migrations[0] > 0
