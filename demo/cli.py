"""``ioc demo``: the whole product in one process."""

from __future__ import annotations

import logging
import os
import signal
import threading

import click


@click.command()
@click.option("--api-port", type=int, default=8000, show_default=True,
              help="Port of the API (IOC_API_PORT wins when set).")  # fmt: skip
def command(api_port: int) -> None:
    """Run migrations, the demo commune, simulators, ingest, alerts and the API together.

    Uses IOC_DATABASE_URL and IOC_MQTT_URL when reachable; otherwise starts an embedded
    PostgreSQL and an in-process MQTT broker in a temporary directory. Ctrl-C stops everything.
    """
    from demo.runner import run

    if not os.environ.get("IOC_LOG_LEVEL"):
        # Keep the console for the banner and the alerts as they would be sent.
        logging.getLogger().setLevel(logging.WARNING)
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    run(stop, lambda text: click.echo(text), api_port)
    click.echo("demo stopped")
