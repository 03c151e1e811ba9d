"""`ioc bus`: the clustered message bus (IOC_BUS=nats)."""

from __future__ import annotations

import signal
import tempfile
import threading
from pathlib import Path

import click


@click.group(name="bus")
def group() -> None:
    """The clustered message bus (NATS JetStream; docs/scale-out.md)."""


@group.command()
@click.option("--nodes", type=click.IntRange(1, 9), default=3, show_default=True)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where configs, data, logs, bus.env and node-N.pid go (default: a new temp dir).",
)
@click.option(
    "--auth", is_flag=True, help="Include DIR/auth.conf (`ioc devices credentials write`)."
)
def local(nodes: int, directory: Path | None, auth: bool) -> None:
    """Run a NATS cluster on free loopback ports in the foreground until Ctrl-C.

    Writes DIR/bus.env (IOC_BUS, IOC_MQTT_URLS, IOC_NATS_URLS...) and DIR/node-N.pid; a node
    that dies is not restarted (kill one to see the others carry on).
    """
    from ioc.bus.local import LocalCluster, nats_binary

    try:
        nats_binary()
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    directory = directory or Path(tempfile.mkdtemp(prefix="ioc-bus-"))
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    cluster = LocalCluster(directory, nodes, auth=auth)
    try:
        cluster.start()
        click.echo(f"bus: {nodes} NATS node(s) in {directory}")
        for node in cluster.nodes:
            click.echo(f"  n{node.index}: MQTT {node.mqtt_url}  NATS {node.nats_url}")
        click.echo(f"environment: {directory / 'bus.env'}  (Ctrl-C stops the cluster)")
        done.wait()
    finally:
        cluster.stop()
