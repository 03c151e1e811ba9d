"""``ioc db``: database clusters for trying and testing high availability."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click

from ioc.ha.cluster import LocalHa, Timing


@click.group("db")
def group() -> None:
    """Database clusters (PostgreSQL under Patroni) on this machine."""


@group.command("local-ha")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for the data, logs, db.env and the node-N.{port,patroni.pid,postgres.pid}.",
)
@click.option("--nodes", type=click.IntRange(1, 5), default=2, show_default=True)
@click.option(
    "--ttl", type=click.IntRange(20), default=30, show_default=True, help="Leader key TTL."
)
@click.option("--loop-wait", type=click.IntRange(1), default=10, show_default=True)
@click.option("--retry-timeout", type=click.IntRange(1), default=10, show_default=True)
@click.option(
    "--timescaledb/--no-timescaledb",
    default=False,
    show_default=True,
    help="Preload TimescaleDB on every node (shared_preload_libraries via Patroni).",
)
def local_ha(
    directory: Path,
    nodes: int,
    ttl: int,
    loop_wait: int,
    retry_timeout: int,
    timescaledb: bool,
) -> None:
    """Run etcd + NODES Patroni-managed PostgreSQL servers on loopback until Ctrl-C.

    Then: `set -a; . DIR/db.env; set +a; ioc migrate` and start ingest, alerts and the API;
    kill the leader's pids (DIR/node-N.patroni.pid, DIR/node-N.postgres.pid) to see a failover.
    """
    timing = Timing(ttl=ttl, loop_wait=loop_wait, retry_timeout=retry_timeout)
    cluster = LocalHa(directory.resolve(), nodes=nodes, timing=timing, timescaledb=timescaledb)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        cluster.start()
        click.echo(f"leader: {cluster.leader()}; settings in {cluster.dir / 'db.env'}:")
        click.echo((cluster.dir / "db.env").read_text().rstrip())
        click.echo("Ctrl-C stops the cluster.", err=True)
        while not stop.wait(1.0):
            cluster.supervise()
    finally:
        click.echo("stopping the cluster", err=True)
        cluster.stop()
