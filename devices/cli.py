"""``ioc devices``: registry commands."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def group() -> None:
    """Registry: communes, sites and devices."""


@group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Import FILE (YAML with communes and devices, or CSV of devices); idempotent."""
    from devices.registry import RegistryError, load_file
    from devices.store import import_registry
    from ioc.db import connect
    from ioc.migrate import require_current
    from ioc.settings import Settings

    settings = Settings()
    try:
        registry = load_file(file)
        require_current(settings.database_url)
        with connect(settings.database_url) as conn:
            result = import_registry(conn, registry, str(file))
    except RegistryError as exc:
        for line in exc.errors:
            click.echo(line, err=True)
        raise click.ClickException(f"{len(exc.errors)} error(s); nothing was imported") from exc
    click.echo(f"imported {file}: {result.summary()}")
