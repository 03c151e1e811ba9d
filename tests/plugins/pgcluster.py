"""A throwaway PostgreSQL cluster on a free port that a test may stop, crash and start (never 5432).

``PgCluster(timescaledb=True)`` preloads TimescaleDB (installed into this PostgreSQL by
``../shared/timescaledb/install.sh``); the machine's own cluster is never reconfigured.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ioc.ports import free_port
from tests.plugins.postgres import migrate_database


def _pg_config(flag: str) -> Path:
    out = subprocess.run(["pg_config", flag], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def _bindir() -> Path:
    return _pg_config("--bindir")


def timescaledb_missing() -> str | None:
    """Why a cluster of this PostgreSQL cannot preload TimescaleDB, or None when it can."""
    try:
        lib = _pg_config("--pkglibdir")
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"pg_config not usable: {exc}"
    if not (lib / "timescaledb.so").exists():
        return f"TimescaleDB is not installed into {lib} (run ../shared/timescaledb/install.sh)"
    return None


class PgCluster:
    """initdb + pg_ctl in a temp directory (as `postgres` when run as root); stop, crash, start."""

    def __init__(self, timescaledb: bool = False, scheduler: bool = True) -> None:
        self.timescaledb = timescaledb
        self.scheduler = scheduler
        self.bindir = _bindir()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="ioc-rel-pg-"))
        self.data = self.dir / "data"
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/ioc"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        cmd = [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), *args]
        subprocess.run(cmd, check=True, capture_output=True, timeout=90)

    def create(self, max_connections: int = 40) -> PgCluster:
        """initdb and start the cluster (no database of ours yet)."""
        subprocess.run(
            [
                *self.as_user,
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.dir}'\nfsync = off\n"
                f"shared_buffers = 64MB\nmax_connections = {max_connections}\n"
            )
            if self.timescaledb:
                # A scheduler per database that has the extension, plus the job workers; none
                # without the scheduler: policies run only when a test calls run_job.
                workers = 48 if self.scheduler else 0
                conf.write(
                    "shared_preload_libraries = 'timescaledb'\n"
                    "timescaledb.telemetry_level = off\n"
                    f"max_worker_processes = 64\ntimescaledb.max_background_workers = {workers}\n"
                )
        self.start()
        return self

    def init(self) -> PgCluster:
        """Create, start and migrate the cluster's `ioc` database."""
        self.create()
        subprocess.run(
            ["psql", self.admin_url, "-qc", "CREATE DATABASE ioc"], check=True, capture_output=True
        )
        migrate_database(self.url)
        return self

    def start(self) -> None:
        """Start (after a crash: with recovery) and wait until it accepts connections."""
        self._ctl("-l", str(self.dir / "log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop; ``immediate`` is a crash (no checkpoint, recovery on next start)."""
        self._ctl("-m", mode, "-w", "stop")

    def close(self) -> None:
        """Crash-stop if running and delete everything."""
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
