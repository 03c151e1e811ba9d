"""``ioc backup run``: one base backup with ``pg_basebackup``, then the retention."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ioc.errors import IocError
from storage.backup.settings import BackupSettings

log = logging.getLogger(__name__)
STAMP = "%Y%m%dT%H%M%SZ"
SEGMENT_BYTES = 16 * 1024 * 1024


class BackupError(IocError):
    """A backup tool failed, or the backup directory holds nothing usable."""


@dataclass(frozen=True)
class BaseBackup:
    """One complete base backup directory."""

    path: Path

    @property
    def taken_at(self) -> datetime:
        return datetime.strptime(self.path.name, STAMP).replace(tzinfo=UTC)

    def first_wal(self) -> str:
        """The WAL segment the backup starts in (older segments are not needed by it)."""
        manifest = json.loads((self.path / "backup_manifest").read_text())
        first = manifest["WAL-Ranges"][0]
        high, low = (int(x, 16) for x in first["Start-LSN"].split("/"))
        lsn = (high << 32) | low
        segment = lsn // SEGMENT_BYTES
        per_id = 0x100000000 // SEGMENT_BYTES
        return f"{first['Timeline']:08X}{segment // per_id:08X}{segment % per_id:08X}"


def bindir(settings: BackupSettings) -> Path:
    """The PostgreSQL binaries to use."""
    if settings.pg_bindir:
        return settings.pg_bindir
    out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
    if out.returncode != 0:
        raise BackupError("pg_config not found: set IOC_BACKUP_PG_BINDIR")
    return Path(out.stdout.strip())


def tool(settings: BackupSettings, name: str, *args: str, timeout: float = 3600) -> str:
    """Run a PostgreSQL tool; its error becomes one line."""
    done = subprocess.run(
        [str(bindir(settings) / name), *args], capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()
        raise BackupError(f"{name} failed: {last[-1] if last else done.returncode}")
    return done.stdout


def backups(settings: BackupSettings) -> list[BaseBackup]:
    """Complete base backups, oldest first."""
    root = settings.dir / "base"
    found = [
        BaseBackup(p)
        for p in sorted(root.glob("*Z"))
        if p.is_dir() and (p / "backup_manifest").exists()
    ]
    return found


def take(settings: BackupSettings, now: datetime | None = None) -> BaseBackup:
    """A compressed tar-format base backup, written as ``.partial`` and renamed when whole."""
    stamp = (now or datetime.now(UTC)).strftime(STAMP)
    final = settings.dir / "base" / stamp
    partial = final.with_name(stamp + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    (settings.dir / "wal").mkdir(parents=True, exist_ok=True)
    shutil.rmtree(partial, ignore_errors=True)
    tool(
        settings,
        "pg_basebackup",
        "-d",
        settings.url,
        "-D",
        str(partial),
        "-Ft",
        "-z",
        "-X",
        "stream",
        "-c",
        "fast",
        "--label",
        f"ioc {stamp}",
    )
    partial.rename(final)
    log.info("base backup %s written", final)
    return BaseBackup(final)


def prune(settings: BackupSettings) -> tuple[list[Path], str | None]:
    """Keep the newest ``keep`` base backups and the WAL they need; return removals."""
    kept = backups(settings)
    removed = [b.path for b in kept[: -settings.keep]]
    for path in removed:
        shutil.rmtree(path)
    for stale in (settings.dir / "base").glob("*.partial"):
        shutil.rmtree(stale, ignore_errors=True)
    oldest = backups(settings)
    wal = settings.dir / "wal"
    if not oldest or not wal.is_dir():
        return removed, None
    first = oldest[0].first_wal()
    tool(settings, "pg_archivecleanup", str(wal), first)  # the standard tool for this
    return removed, first
