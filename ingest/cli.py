"""`ioc ingest`: run the MQTT → PostgreSQL ingest (one process, or a supervisor of workers)."""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ingest.settings import IngestSettings
    from ioc.settings import Settings

log = logging.getLogger(__name__)


@click.group(
    invoke_without_command=True,
    epilog="Settings: IOC_DATABASE_URL, IOC_MQTT_URL and IOC_INGEST_* (see "
    "docs/device-integration.md and ingest/settings.py).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes sharing the subscription (default: CPU count; 1 = in-process).",
)
@click.option("--worker-index", type=int, default=None, hidden=True)
@click.option("--supervisor-pid", type=int, default=0, hidden=True)
@click.pass_context
def command(
    ctx: click.Context, workers: int | None, worker_index: int | None, supervisor_pid: int
) -> None:
    """Consume device telemetry, events and status from MQTT into PostgreSQL."""
    if ctx.invoked_subcommand is not None:
        return
    from ingest.settings import IngestSettings
    from ioc.migrate import require_current
    from ioc.settings import Settings

    settings = Settings()
    ingest = IngestSettings()
    count = workers or os.cpu_count() or 1
    if worker_index is None and count > 1:
        from ingest.supervisor import Supervisor

        require_current(settings.database_url)
        Supervisor(count, ingest).run()
        return
    if worker_index is not None:
        from ingest.supervisor import become_worker

        ingest = become_worker(ingest, worker_index, supervisor_pid)
    else:
        require_current(settings.database_url)
    run_service(settings, ingest)


def run_service(settings: Settings, ingest: IngestSettings) -> None:
    """Run one IngestService until SIGTERM/SIGINT."""
    from ingest.service import IngestService

    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    service = IngestService(settings, ingest).start()
    try:
        done.wait()
    finally:
        service.stop()


@command.command()
@click.argument("name")
def retire(name: str) -> None:
    """Drain ingest instance NAME's broker session into the database and end it.

    For an instance that will not come back (scaled down, renamed host, one-off run): what the
    broker queued for it is written like any batch, then its session is ended so the group's
    messages go to the live members only. Live instances do this by themselves for an instance
    silent for IOC_INGEST_TAKEOVER_AFTER_S.
    """
    from ingest.service import IngestService
    from ingest.settings import IngestSettings
    from ioc.migrate import require_current
    from ioc.settings import Settings

    settings = Settings()
    ingest = IngestSettings()
    if name == ingest.instance:
        raise click.ClickException(
            f"{name} is this host's own instance name; set IOC_INGEST_INSTANCE to another name "
            "to retire it from here"
        )
    require_current(settings.database_url)
    service = IngestService(settings, ingest).start(consume=False)
    try:
        taken = service.retire(name)
    except (RuntimeError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        service.stop()
    click.echo(f"retired ingest instance {name}: {taken} queued message(s) written")
