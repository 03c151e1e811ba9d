"""The bus's promise: a reading whose PUBACK the publisher received is stored exactly once, when
(a) one node is SIGKILLed, (b) every node restarts, (c) ingest goes 1 -> 3 -> 1 instances,
(d) the database is away for a while. Each test prints its counts."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from ioc.bus.local import LocalCluster
from tests.bus.conftest import BusIngest
from tests.bus.harness import Feed, IngestProcess, report, stream_leader, wait_sent, wait_stored
from tests.ingest.conftest import REGISTRY, import_yaml
from tests.plugins.pgcluster import PgCluster
from tests.util import wait_until

COUNT = 3000
RATE = 600.0


def finish(name: str, feed: Feed, db_url: str, timeout: float = 90) -> None:
    feed.join(120)
    assert feed.error is None, feed.error
    took = wait_stored(db_url, feed.acked, timeout)
    lost, duplicated = report(name, feed, db_url)
    print(f"[bus {name}] all stored {took:.1f} s after the feed ended")
    assert len(feed.acked) == COUNT, "the feed re-sends until every reading is acknowledged"
    assert (lost, duplicated) == (0, 0)


def test_a_node_killed_mid_stream(bus: LocalCluster, bus_ingest: BusIngest, registry: str) -> None:
    bus_ingest(registry)
    victim = stream_leader(bus)  # the node leading the stream, and the feed's node
    feed = Feed(bus.mqtt_urls, COUNT, RATE, first=victim - 1)
    # a device of another commune on a node that stays up
    other = Feed(bus.mqtt_urls, COUNT, RATE, first=victim % 3, device="th-cam-01", commune="21026")
    feed.start()
    other.start()
    wait_sent(feed, COUNT // 3)
    bus.kill_node(victim, signal.SIGKILL)
    print(f"\n[bus a] SIGKILLed n{victim} (stream leader) after {feed.sent} publishes")
    other.join(120)
    assert other.error is None, other.error
    wait_stored(registry, other.acked, 60, other.device)
    assert report("a: node SIGKILLed", other, registry) == (0, 0) and len(other.acked) == COUNT
    finish("a: node SIGKILLed", feed, registry)


def test_every_node_restarted(bus: LocalCluster, bus_ingest: BusIngest, registry: str) -> None:
    bus_ingest(registry)
    feed = Feed(bus.mqtt_urls, COUNT, RATE)
    feed.start()
    wait_sent(feed, COUNT // 3)
    bus.stop()
    print(f"\n[bus b] every node stopped after {feed.sent} publishes; starting them again")
    bus.start(prepare=False)
    finish("b: every node restarted", feed, registry)


def test_ingest_instances_one_three_one(bus: LocalCluster, registry: str, tmp_path: Path) -> None:
    first = IngestProcess(bus, registry, "a", tmp_path)
    others: list[IngestProcess] = []
    try:
        feed = Feed(bus.mqtt_urls, COUNT, RATE / 2)
        feed.start()
        wait_sent(feed, COUNT // 4)
        others = [IngestProcess(bus, registry, name, tmp_path) for name in ("b", "c")]
        wait_sent(feed, COUNT * 3 // 4)
        others[0].stop(signal.SIGKILL)  # a crash: its unacked messages go to the others
        others[1].stop(signal.SIGTERM)  # a scale-down: writes what it holds, then leaves
        print(f"\n[bus c] 1 -> 3 -> 1 instances (one SIGKILLed) by publish {feed.sent}")
        finish("c: ingest 1 -> 3 -> 1", feed, registry)
    finally:
        for proc in (first, *others):
            proc.stop()
    for proc in others:
        assert "ingest" in proc.log.read_text(), "the added instance ran"


def test_database_away(bus: LocalCluster, bus_ingest: BusIngest) -> None:
    # "A minute" shrunk: the outage lasts 5 x ack_wait (2 s here, 30 s by default), so pulled
    # messages outlive their ack deadline several times over while the batch waits.
    pg = PgCluster().init()
    try:
        import_yaml(pg.url, REGISTRY)
        bus_ingest(pg.url, retry_max_s=0.5)
        feed = Feed(bus.mqtt_urls, COUNT, RATE)
        feed.start()
        wait_sent(feed, COUNT // 3)
        pg.stop("fast")
        wait_until(lambda: feed.sent >= COUNT * 2 // 3, 30, message="publishing on")
        feed.join(60)
        time.sleep(10.0)  # the outage itself (nothing to wait for: the database is down)
        print(f"\n[bus d] database away for 10 s from publish {COUNT // 3}")
        pg.start()
        finish("d: database away", feed, pg.url)
    finally:
        pg.close()
