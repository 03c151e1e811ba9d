"""The fleet against a real Mosquitto: births, last wills, shared gateways, load mode."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices.registry import Registry, parse_yaml
from ioc.mqttclient import MqttTarget
from simulators.clock import SimClock
from simulators.fleet import Fleet, Progress
from simulators.generate import generate
from simulators.world import World
from tests.plugins.broker import Mosquitto
from tests.util import wait_until

SMALL = """
communes: [{code: "99001", name: "Xã Thử", sites: [{id: t-ubnd, name: UBND}, {id: t-h1, name: Thôn 1}]}]
devices:
  - {id: t-uplink, type: link, commune: "99001", site: t-ubnd, name: Uplink}
  - {id: t-sw, type: link, commune: "99001", site: t-h1, parent: t-uplink, name: Switch}
  - {id: t-cam1, type: camera, commune: "99001", site: t-h1, parent: t-sw, name: Cam 1}
  - {id: t-cam2, type: camera, commune: "99001", site: t-h1, parent: t-sw, name: Cam 2}
  - {id: t-spk, type: speaker, commune: "99001", site: t-h1, name: Loa 4G}
"""


class Recorder:
    """A subscriber that keeps every (topic, payload, retained) it receives."""

    def __init__(self, url: str) -> None:
        target = MqttTarget(url)
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect(target.host, target.port)
        self.client.subscribe("ioc/v1/#", qos=1)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def status(self, device: str) -> list[bytes]:
        with self.lock:
            return [p for t, p, _ in self.messages if t.endswith(f"/{device}/status")]

    def went(self, state: str, device: str) -> Callable[[], bool]:
        """A predicate: the device's latest status is ``state``."""
        return lambda: self.status(device)[-1:] == [state.encode()]

    def count(self, suffix: str) -> int:
        with self.lock:
            return sum(1 for t, _, _ in self.messages if t.endswith(suffix))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@contextmanager
def running(fleet: Fleet, **kw: object) -> Iterator[dict[str, Progress]]:
    stop = threading.Event()
    result: dict[str, Progress] = {}
    thread = threading.Thread(target=lambda: result.update(final=fleet.run(stop=stop, **kw)))  # type: ignore[arg-type]
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join(10)
        fleet.drain(2)
        fleet.close(will=True)


def small() -> Registry:
    registry = parse_yaml(SMALL)
    assert not registry.errors
    return registry


def test_births_and_last_wills_follow_connectivity(own_broker: Mosquitto) -> None:
    recorder = Recorder(own_broker.url)
    clock = SimClock(time.time(), speed=60)
    world = World(small(), 1, clock.start, random_faults=False)
    fleet = Fleet(world, clock, MqttTarget(own_broker.url), "device")
    try:
        with running(fleet):
            wait_until(
                lambda: all(recorder.status(d) == [b"online"] for d in world.devices),
                10,
                message="births",
            )
            wait_until(lambda: recorder.count("/t-cam1/telemetry") >= 2, 10, message="telemetry")
            fleet.inject("uplink_cut", "t-uplink", 300)  # 5 simulated minutes = 5 s
            for device in ("t-uplink", "t-sw", "t-cam1", "t-cam2"):
                wait_until(recorder.went("offline", device), 5, message=f"{device} last will")
            assert recorder.status("t-spk") == [b"online"], (
                "the 4G speaker does not depend on the uplink"
            )
            wait_until(
                lambda: recorder.status("t-cam1")[-1:] == [b"online"], 15, message="reconnect"
            )
            wait_until(lambda: recorder.count("/t-cam1/telemetry") >= 4, 10, message="backfill")
        late = Recorder(own_broker.url)
        wait_until(lambda: late.count("/status") == 5, 5, message="retained statuses")
        assert all(r for _, _, r in late.messages)
        assert set(late.status("t-cam1")) == {b"offline"}, "closing the fleet fires the last wills"
        late.close()
    finally:
        recorder.close()


def test_site_gateways_share_connections(own_broker: Mosquitto) -> None:
    recorder = Recorder(own_broker.url)
    clock = SimClock(time.time(), speed=30)
    world = World(generate(1), 1, clock.start, random_faults=False)
    fleet = Fleet(world, clock, MqttTarget(own_broker.url), "site")
    assert len(fleet.conns) < len(world.devices) / 4
    hub = next(d.id for d in world.devices.values() if d.parents == ["30001-uplink"])
    camera = next(d.id for d in world.devices[hub].children if d.type == "camera")
    assert fleet.conn_of[camera].client_id == hub
    try:
        with running(fleet):
            wait_until(
                lambda: recorder.count("/status") >= len(world.devices), 10, message="births"
            )
            fleet.inject("outage", camera, 600)
            wait_until(lambda: recorder.status(camera)[-1:] == [b"offline"], 5,
                       message="gateway reports its device's death")  # fmt: skip
            fleet.inject("uplink_cut", "30001-uplink", 600)
            wait_until(
                lambda: recorder.status(hub)[-1:] == [b"offline"], 5, message="hub last will"
            )
    finally:
        recorder.close()


def test_load_mode_reports_rate_and_acks(own_broker: Mosquitto) -> None:
    clock = SimClock(time.time(), speed=1)
    world = World(small(), 1, clock.start, random_faults=False)
    fleet = Fleet(world, clock, MqttTarget(own_broker.url), "device", max_inflight=1000)
    final = fleet.run(duration=2.0, rate=400)
    left = fleet.drain(5)
    fleet.close()
    assert left == 0 and fleet.mux.acked == fleet.mux.sent
    assert 300 <= final.rate <= 480, final.line()


def test_devices_reconnect_after_a_broker_restart(own_broker: Mosquitto) -> None:
    clock = SimClock(time.time(), speed=60)
    world = World(small(), 1, clock.start, random_faults=False)
    fleet = Fleet(world, clock, MqttTarget(own_broker.url), "device")
    with running(fleet):
        wait_until(lambda: fleet.progress(0).connections == 5, 10, message="connected")
        own_broker.stop(kill=True)
        wait_until(lambda: fleet.progress(0).connections == 0, 10, message="connections lost")
        own_broker.start()
        recorder = Recorder(own_broker.url)
        try:
            wait_until(lambda: fleet.progress(0).connections == 5, 20, message="reconnected")
            wait_until(
                lambda: recorder.status("t-cam1")[-1:] == [b"online"], 10, message="new birth"
            )
            wait_until(lambda: recorder.count("/t-cam1/telemetry") >= 1, 10, message="telemetry")
        finally:
            recorder.close()
