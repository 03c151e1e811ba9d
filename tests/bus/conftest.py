"""Fixtures of the bus tests: a 3-node NATS cluster of the test's own, and ingest on it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.service import IngestService
from ioc.bus.local import LocalCluster
from tests.ingest.conftest import REGISTRY, import_yaml, test_settings
from tests.util import wait_until

NATS_MISSING = shutil.which("nats-server") is None and not Path("/usr/sbin/nats-server").exists()
pytestmark = pytest.mark.skipif(NATS_MISSING, reason="nats-server is not installed")


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[LocalCluster]:
    """A running 3-node cluster on free loopback ports (the code of `ioc bus local`)."""
    if NATS_MISSING:
        pytest.skip("nats-server is not installed (Debian package nats-server)")
    cluster = LocalCluster(tmp_path / "bus", 3).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def registry(db_url: str) -> str:
    """This test's database with the small registry of the ingest tests."""
    import_yaml(db_url, REGISTRY)
    return db_url


BusIngest = Callable[..., IngestService]


@pytest.fixture
def bus_ingest(request: pytest.FixtureRequest) -> Iterator[BusIngest]:
    """Start in-process ingest services on the bus (stopped at the end)."""
    started: list[IngestService] = []

    def start(db_url: str, **over: Any) -> IngestService:
        if "nats_urls" not in over:  # the test's own cluster, unless it names another
            bus: LocalCluster = request.getfixturevalue("bus")
            urls = {"nats_urls": ",".join(bus.nats_urls), "mqtt_urls": ",".join(bus.mqtt_urls)}
            over = {**urls, **over}
        args: dict[str, Any] = {
            "bus": "nats",
            "topic_prefix": "ioc/v1",
            "ack_wait_s": 2.0,
            "receive_maximum": 500,
            **over,
        }
        settings, ingest = test_settings(db_url, args["mqtt_urls"].split(",")[0], **args)
        svc = IngestService(settings, ingest).start()
        started.append(svc)
        wait_until(svc.consumer.connected.is_set, 30, message="ingest pulling from the bus")
        return svc

    yield start
    for svc in started:
        svc.stop()
