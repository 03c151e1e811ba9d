"""Backup settings from ``IOC_BACKUP_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from ioc.settings import AreaSettings, env_config


class BackupSettings(AreaSettings):
    """Where backups go, how many are kept, and how the server is reached."""

    model_config = env_config("IOC_BACKUP_")

    dir: Path = Field(
        Path("/backup"),
        description="Backup root: base/ (pg_basebackup) and wal/ (the server's "
        "archive_command copies segments there).",
    )
    url: str = Field(
        "postgresql://postgres@localhost:5432/ioc",
        description="URL pg_basebackup uses (a superuser or a role WITH REPLICATION); "
        "`verify` also reads the primary's row counts there to compare.",
    )
    keep: int = Field(
        7, ge=1, description="Base backups kept (daily: a week); older WAL is removed too."
    )
    pg_bindir: Path | None = Field(
        None,
        description="Directory of pg_basebackup, pg_ctl, pg_archivecleanup (same major version "
        "as the server); default: `pg_config --bindir`.",
    )
    max_lag_s: float = Field(
        900.0,
        gt=0,
        description="`verify` fails when the restored last reading is older than the "
        "primary's by more than this (RPO check; archive_timeout bounds it).",
    )
