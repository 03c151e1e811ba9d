"""``ioc backup verify``: restore the newest base backup + WAL into a scratch cluster, check it.

The scratch cluster runs on a free loopback port from a temporary directory, with archiving
off (it must never write into the archive it restores from) and TimescaleDB's background jobs
off; it is stopped and deleted afterwards, whatever happened.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from ioc.ports import free_port
from storage.backup.base import BackupError, BaseBackup, backups, tool
from storage.backup.settings import BackupSettings

# Tables whose rows are counted (the registry, the data, the alert state).
COUNT_SQL = {
    "devices": "SELECT count(*) FROM devices",
    "telemetry_points": "SELECT count(*) FROM telemetry_points",
    "device_events": "SELECT count(*) FROM device_events",
    "alerts": "SELECT count(*) FROM alerts",
}
LAST_READING_SQL = "SELECT max(time) FROM telemetry_points"
RECOVERING_SQL = "SELECT pg_is_in_recovery()"


@dataclass
class Restored:
    """What the restored copy holds, and how it compares with the primary."""

    backup: BaseBackup
    seconds: float
    counts: dict[str, int]
    last_reading: datetime | None
    primary_last: datetime | None = None
    error: str | None = None

    @property
    def lag_s(self) -> float | None:
        if self.primary_last is None or self.last_reading is None:
            return None
        return max(0.0, (self.primary_last - self.last_reading).total_seconds())

    def line(self) -> str:
        """The one-line result."""
        counts = ", ".join(f"{t} {n}" for t, n in self.counts.items())
        last = self.last_reading.isoformat() if self.last_reading else "none"
        lag = f"; {self.lag_s:.0f}s behind the primary" if self.lag_s is not None else ""
        verdict = f"FAILED: {self.error}" if self.error else "OK"
        return (
            f"backup {self.backup.path.name} restored in {self.seconds:.1f}s: {counts}; "
            f"last reading {last}{lag} — {verdict}"
        )


def _extract(archive: Path, into: Path) -> None:
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="fully_trusted")  # our own backup, permissions kept


def verify(settings: BackupSettings, timeout_s: float = 600) -> Restored:
    """Restore the newest base backup and WAL; count rows; compare with the primary."""
    found = backups(settings)
    if not found:
        raise BackupError(f"no complete base backup in {settings.dir / 'base'}")
    backup = found[-1]
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="ioc-verify-"))
    data = scratch / "data"
    as_root = os.geteuid() == 0
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    port = free_port()
    try:
        data.mkdir(mode=0o700)
        _extract(backup.path / "base.tar.gz", data)
        if (backup.path / "pg_wal.tar.gz").exists():
            _extract(backup.path / "pg_wal.tar.gz", data / "pg_wal")
        wal = (settings.dir / "wal").resolve()
        with (data / "postgresql.auto.conf").open("a") as conf:
            conf.write(
                f"port = {port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{scratch}'\narchive_mode = off\n"
                f"restore_command = 'cp {wal}/%f %p'\nrecovery_target_timeline = 'latest'\n"
                "timescaledb.max_background_workers = 0\n"
            )
        (data / "recovery.signal").touch()
        (data / "standby.signal").unlink(missing_ok=True)
        if as_root:
            shutil.chown(scratch, "postgres", "postgres")
            for path in [data, *data.rglob("*")]:
                shutil.chown(path, "postgres", "postgres")
        os.chmod(data, 0o700)
        _pg_ctl(settings, run_as, data, scratch, "start", timeout_s)
        user = urlsplit(settings.url).username or "postgres"
        dbname = urlsplit(settings.url).path.lstrip("/") or "ioc"
        url = f"postgresql://{user}@/{dbname}?host={scratch}&port={port}"
        with psycopg.connect(url, autocommit=True) as conn:
            deadline = time.monotonic() + timeout_s
            while conn.execute(RECOVERING_SQL).fetchone() == (True,):
                if time.monotonic() > deadline:
                    raise BackupError(f"recovery not finished after {timeout_s:.0f}s")
                time.sleep(0.2)
            counts = {t: int(conn.execute(q).fetchone()[0]) for t, q in COUNT_SQL.items()}  # type: ignore[index]
            last = conn.execute(LAST_READING_SQL).fetchone()
        result = Restored(backup, time.monotonic() - started, counts, last[0] if last else None)
    finally:
        _stop(settings, run_as, data, scratch)
        shutil.rmtree(scratch, ignore_errors=True)
    _compare(settings, result)
    return result


def _pg_ctl(
    settings: BackupSettings,
    run_as: list[str],
    data: Path,
    scratch: Path,
    action: str,
    timeout_s: float,
) -> None:
    import subprocess

    from storage.backup.base import bindir

    done = subprocess.run(
        [
            *run_as,
            str(bindir(settings) / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(scratch / "log"),
            "-w",
            "-t",
            str(int(timeout_s)),
            action,
        ],
        capture_output=True,
        text=True,
        timeout=timeout_s + 30,
    )
    if done.returncode != 0:
        log = (scratch / "log").read_text(errors="replace") if (scratch / "log").exists() else ""
        raise BackupError(f"the restored cluster did not start: {log.strip()[-2000:]}")


def _stop(settings: BackupSettings, run_as: list[str], data: Path, scratch: Path) -> None:
    import subprocess

    from storage.backup.base import bindir

    if (data / "postmaster.pid").exists():
        subprocess.run(
            [
                *run_as,
                str(bindir(settings) / "pg_ctl"),
                "-D",
                str(data),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            capture_output=True,
            timeout=60,
        )


def _compare(settings: BackupSettings, result: Restored) -> None:
    if result.counts.get("devices", 0) == 0:
        result.error = "the restored registry has no devices"
        return
    try:
        with psycopg.connect(settings.url, connect_timeout=5) as conn:
            row = conn.execute(LAST_READING_SQL).fetchone()
    except psycopg.Error:
        return  # the primary is gone (a real restore): nothing to compare with
    result.primary_last = row[0] if row else None
    lag = result.lag_s
    if lag is not None and lag > settings.max_lag_s:
        result.error = f"{lag:.0f}s of readings missing (IOC_BACKUP_MAX_LAG_S)"


__all__ = ["Restored", "tool", "verify"]
