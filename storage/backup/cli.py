"""``ioc backup``: base backups with retention, and a restore check."""

from __future__ import annotations

import sys

import click


@click.group()
def group() -> None:
    """Daily base backups (pg_basebackup) + the WAL archive; restore checks.

    \b
    The server archives WAL itself (archive_mode=on, archive_command copying to
    $IOC_BACKUP_DIR/wal; docker-compose.yml sets both). Schedule `ioc backup run` daily and
    `ioc backup verify` at least weekly (docs/deploy.md).
    """


@group.command("run")
def run_command() -> None:
    """Take a base backup, then keep only the newest IOC_BACKUP_KEEP and the WAL they need."""
    from storage.backup.base import prune, take
    from storage.backup.settings import BackupSettings

    settings = BackupSettings()
    backup = take(settings)
    removed, first = prune(settings)
    click.echo(
        f"base backup {backup.path.name}; {len(removed)} old removed; WAL kept from {first or '-'}"
    )


@group.command("list")
def list_command() -> None:
    """The complete base backups, oldest first."""
    from storage.backup.base import backups
    from storage.backup.settings import BackupSettings

    for backup in backups(BackupSettings()):
        click.echo(f"{backup.path.name}  {backup.taken_at.isoformat()}  from {backup.first_wal()}")


@group.command("verify")
@click.option("--timeout", "timeout_s", type=float, default=600, show_default=True)
def verify_command(timeout_s: float) -> None:
    """Restore the newest backup into a scratch cluster on a free port; one line; exit 1 if bad."""
    from storage.backup.settings import BackupSettings
    from storage.backup.verify import verify

    result = verify(BackupSettings(), timeout_s)
    click.echo(result.line())
    sys.exit(1 if result.error else 0)
