"""Ingest on the bus: readings, events, births, wills and retained status reach the database."""

from __future__ import annotations

from ioc.bus.local import LocalCluster
from tests.bus.conftest import BusIngest
from tests.bus.harness import Feed, report, wait_stored


def test_readings_through_the_bus_are_stored_once(
    bus: LocalCluster, bus_ingest: BusIngest, registry: str
) -> None:
    bus_ingest(registry)
    feed = Feed(bus.mqtt_urls, 500, 1000.0, first=2)
    feed.start()
    feed.join(60)
    assert feed.error is None
    wait_stored(registry, feed.acked, 30)
    lost, duplicated = report("roundtrip", feed, registry)
    assert len(feed.acked) == 500
    assert (lost, duplicated) == (0, 0)
