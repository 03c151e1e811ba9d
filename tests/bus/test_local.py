"""`ioc bus local`: the cluster people and tests use; a kill -9 of any node's pid is survived."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from ioc.bus.local import LocalCluster
from tests.bus.conftest import BusIngest
from tests.bus.harness import Feed, report, stream_leader, wait_sent, wait_stored
from tests.util import wait_until


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


def test_bus_local_survives_kill_9_of_a_node(
    tmp_path: Path, bus_ingest: BusIngest, registry: str
) -> None:
    directory = tmp_path / "local"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ioc", "bus", "local", "--nodes", "3", "--dir", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        env_file = directory / "bus.env"
        wait_until(env_file.exists, 60, message="bus.env written")
        env = read_env(env_file)
        assert env["IOC_BUS"] == "nats"
        urls = env["IOC_MQTT_URLS"].split(",")
        pids = [int((directory / f"node-{i}.pid").read_text()) for i in (1, 2, 3)]
        assert len(urls) == 3 and len(set(pids)) == 3
        cluster = LocalCluster(directory, 3)  # only to ask who leads (ports from bus.env)
        for node, url, nats_url in zip(
            cluster.nodes, urls, env["IOC_NATS_URLS"].split(","), strict=True
        ):
            node.mqtt_port = int(url.rsplit(":", 1)[1])
            node.client_port = int(nats_url.rsplit(":", 1)[1])
        bus_ingest(registry, nats_urls=env["IOC_NATS_URLS"], mqtt_urls=env["IOC_MQTT_URLS"])
        victim = stream_leader(cluster)
        feed = Feed(urls, 2000, 600.0, first=victim - 1)
        feed.start()
        wait_sent(feed, 600)
        os.kill(pids[victim - 1], signal.SIGKILL)
        feed.join(120)
        assert feed.error is None, feed.error
        wait_stored(registry, feed.acked, 60)
        lost, duplicated = report(f"local: kill -9 of n{victim}'s pid", feed, registry)
        assert (lost, duplicated) == (0, 0) and len(feed.acked) == 2000
        assert proc.poll() is None, "`ioc bus local` keeps running with one node gone"
    finally:
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=120)[0].decode()
    assert "bus.env" in out
    for pid in pids:
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or "zombie" in status.read_text()
