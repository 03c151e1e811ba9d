"""What "PUBACKed" means on NATS, measured: NATS stores a QoS 1 MQTT PUBLISH in its MQTT stream
on a quorum before the PUBACK; a stream of our own capturing the same subjects gets it as a
plain publish that nobody waits for. Killing that stream's leader mid-stream shows the
difference (docs/scale-out.md quotes the counts this prints)."""

from __future__ import annotations

import asyncio
import json
import signal

import nats
from nats.js.api import StreamConfig

from ioc.bus.local import LocalCluster
from tests.bus.conftest import BusIngest
from tests.bus.harness import Feed, report, stream_leader, wait_sent, wait_stored

PROBE = "IOC_PROBE"


def test_puback_means_on_a_quorum_of_the_stream_ingest_reads(
    bus: LocalCluster, bus_ingest: BusIngest, registry: str
) -> None:
    async def add_probe() -> None:
        nc = await nats.connect(servers=bus.nats_urls)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=PROBE, subjects=["ioc.v1.>"], num_replicas=3))
        await nc.close()

    async def probe_seqs() -> set[int]:
        nc = await nats.connect(servers=[u for i, u in enumerate(bus.nats_urls) if i != gone])
        sub = None
        for _ in range(20):  # the stream elects a new leader first
            try:
                sub = await nc.jetstream().pull_subscribe("ioc.v1.>", durable="count", stream=PROBE)
                break
            except (TimeoutError, nats.errors.TimeoutError):
                await asyncio.sleep(1)
        assert sub is not None, f"{PROBE} has no leader"
        seqs: set[int] = set()
        while True:
            try:
                msgs = await sub.fetch(1000, timeout=2)
            except (TimeoutError, nats.errors.TimeoutError):
                break
            seqs.update(json.loads(m.data)["seq"] for m in msgs)
        await nc.close()
        return seqs

    bus_ingest(registry)
    asyncio.run(add_probe())
    victim = stream_leader(bus, PROBE)
    gone = victim - 1
    feed = Feed(bus.mqtt_urls, 3000, 600.0, first=gone)
    feed.start()
    wait_sent(feed, 1000)
    bus.kill_node(victim, signal.SIGKILL)
    feed.join(120)
    assert feed.error is None, feed.error
    wait_stored(registry, feed.acked, 60)
    probe = asyncio.run(probe_seqs())
    lost, duplicated = report("PUBACK: $MQTT_msgs -> ingest", feed, registry)
    print(
        f"[bus PUBACK: own stream {PROBE}, leader n{victim} SIGKILLed] PUBACKed "
        f"{len(feed.acked)}, in the stream {len(probe)}, missing {len(feed.acked - probe)}"
    )
    assert (lost, duplicated) == (0, 0)
