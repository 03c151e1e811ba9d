"""``ioc maintain`` (storage jobs) and ``ioc report availability`` (monthly report)."""

from __future__ import annotations

import signal
import sys
import threading
from datetime import date, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from ioc.bounds import EARLIEST, LATEST

if TYPE_CHECKING:
    from ioc.settings import Settings
    from storage.settings import StorageSetup


@click.command()
@click.option("--once", is_flag=True, help="Run every job once, then exit.")
def maintain(once: bool) -> None:
    """Run rollups, retention/partitions and availability jobs (APScheduler, in background)."""
    from ioc.db import require_primary
    from ioc.settings import Settings
    from storage import jobs

    settings = Settings()
    storage = _storage(settings)
    url = settings.database_url
    require_primary(url, "ioc maintain")  # a replica cannot take writes (policies, rollups)
    applied = jobs.apply_policies(url, storage)
    if applied is not None:
        click.echo(
            f"TimescaleDB policies: {len(applied.added)} added, {len(applied.altered)} altered, "
            f"{len(applied.kept)} unchanged"
        )
    for name, (job, _) in jobs.JOBS.items():
        click.echo(f"{name}: {job(url, storage)}")
    if once:
        return
    scheduler = jobs.build_scheduler(url, storage)
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    scheduler.start()
    click.echo("maintenance jobs scheduled; Ctrl-C to stop")
    stop.wait()
    scheduler.shutdown(wait=True)


@click.group()
def report() -> None:
    """Reports a commune hands to the province."""


def _month(ctx: click.Context, param: click.Parameter, value: str) -> date:
    try:
        month = datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise click.BadParameter("expected YYYY-MM, e.g. 2026-11") from None
    if not EARLIEST.year <= month.year < LATEST.year:  # the month's end must be computable
        raise click.BadParameter(f"the month must be between {EARLIEST:%Y-%m} and {LATEST:%Y}-01")
    return month


@report.command()
@click.option("--commune", required=True, help="Commune code (5 digits).")
@click.option("--month", required=True, callback=_month, help="Month, YYYY-MM.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json", "xlsx", "pdf"]),
    default="csv",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file (default: stdout for csv/json, availability-CODE-YYYY-MM.EXT otherwise).",
)
def availability(commune: str, month: date, fmt: str, output: Path | None) -> None:
    """Monthly availability per device, site and type, with the worst devices (Vietnamese)."""
    from ioc.db import connect
    from ioc.settings import Settings
    from storage import render
    from storage.availability import monthly_report

    settings = Settings()
    storage = _storage(settings)
    with connect(settings.read_url, autocommit=True) as conn:  # a replica will do
        try:
            result = monthly_report(conn, commune, month, settings=storage)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from exc
    data = render.render(result, fmt)  # type: ignore[arg-type]
    if output is None and fmt in ("csv", "json"):
        sys.stdout.buffer.write(data)
        return
    path = output or Path(f"availability-{commune}-{month:%Y-%m}.{fmt}")
    path.write_bytes(data)
    click.echo(f"wrote {path} ({len(data)} bytes)")


def _storage(settings: Settings) -> StorageSetup:
    """The storage jobs' and reports' settings, resolved against the core ones."""
    from storage import jobs
    from storage.settings import (
        AvailabilitySettings,
        ReportSettings,
        RetentionSettings,
        RollupSettings,
        StorageSetup,
    )

    storage = StorageSetup(
        RetentionSettings(), RollupSettings(), AvailabilitySettings(), ReportSettings()
    )
    return jobs.resolve(settings, storage)
