"""`ioc demo` on a shared broker: never another run's client ids, never a production group."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from demo.isolation import live_devices
from devices.registry import load_file
from ioc.mqttclient import MqttTarget
from ioc.ports import free_port
from simulators.clock import SimClock
from simulators.fleet import Fleet
from simulators.world import World
from tests.plugins.broker import Mosquitto
from tests.util import wait_until

DEMO = Path(__file__).resolve().parents[2] / "devices" / "data" / "demo_commune.yaml"


def _client(url: str, name: str) -> mqtt.Client:
    target = MqttTarget(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name)
    client.connect(target.host, target.port)
    client.loop_start()
    return client


@pytest.fixture
def other_demo(own_broker: Mosquitto) -> Iterator[str]:
    """A device of the demo commune reporting every 0.2 s (another demo, a drill)."""
    client = _client(own_broker.url, "ts-cam-01")
    stop = threading.Event()

    def publish() -> None:
        seq = 0
        while not stop.wait(0.2):
            seq += 1
            payload = f'{{"ts": {int(time.time() * 1000)}, "seq": {seq}, "metrics": {{"fps": 25}}}}'
            client.publish("ioc/v1/21025/ts-cam-01/telemetry", payload, qos=1)

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    yield own_broker.url
    stop.set()
    thread.join(5)
    client.disconnect()
    client.loop_stop()


def test_demo_refuses_a_broker_where_demo_devices_already_publish(
    other_demo: str, empty_db_url: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update({"IOC_DATABASE_URL": empty_db_url, "IOC_MQTT_URL": other_demo})
    done = subprocess.run(
        [sys.executable, "-m", "ioc", "demo", "--api-port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "already publishing" in errors[0] and "ts-cam-01" in errors[0]
    assert "another `ioc demo` or `ioc drill`" in errors[0]


def test_probe_ignores_retained_statuses(own_broker: Mosquitto) -> None:
    """Retained `online`/`offline` left by earlier runs are history, not a running demo."""
    client = _client(own_broker.url, "leftover")
    client.publish("ioc/v1/21025/ts-cam-02/status", "offline", qos=1, retain=True).wait_for_publish(
        5
    )
    client.disconnect()
    client.loop_stop()
    assert live_devices(MqttTarget(own_broker.url), 0.5) == set()


def test_demo_fleet_uses_its_own_client_ids(own_broker: Mosquitto) -> None:
    """Two fleets of the same devices on one broker do not kick each other off."""
    clock = SimClock.ending_now(1.0, None)
    fleets = []
    for run in ("aaaaaa", "bbbbbb"):
        world = World(load_file(DEMO), 1, clock.start, fault_rate=0)
        fleets.append(
            Fleet(world, clock, MqttTarget(own_broker.url), "device", client_prefix=f"demo-{run}-")
        )
    stop = threading.Event()
    threads = [threading.Thread(target=f.run, kwargs={"stop": stop}, daemon=True) for f in fleets]
    for thread in threads:
        thread.start()
    try:
        wait_until(
            lambda: all(f.progress(0).connections == len(f.conns) for f in fleets),
            20,
            message="both fleets fully connected",
        )
        time.sleep(1.5)  # an observation window: a kicked-off client would show as down here
        assert all(f.progress(0).connections == len(f.conns) for f in fleets)
        ids = {c.client._client_id for f in fleets for c in f.conns.values() if c.client}
        assert len(ids) == sum(len(f.conns) for f in fleets)
        assert all(i.startswith((b"demo-aaaaaa-", b"demo-bbbbbb-")) for i in ids)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
        for fleet in fleets:
            fleet.close(will=False)


def test_banner_prints_ready_to_paste_psql_and_the_grafana_uid() -> None:
    """The README's psql example needs no variable set: the banner gives the command."""
    import shlex

    from demo.runner import Endpoints, banner

    url = "postgresql://postgres:s3cret@127.0.0.1:5432/ioc"
    text = banner(
        Endpoints(url, "mqtt://127.0.0.1:1883", "http://127.0.0.1:8000", "t", False, False)
    )
    (line,) = [x for x in text.splitlines() if x.startswith("SQL:")]
    command = shlex.split(line.removeprefix("SQL:").strip())
    assert command == ["psql", "postgresql://postgres:***@127.0.0.1:5432/ioc"]  # no password shown
    assert "uid ioc-postgres" in text
    embedded = banner(
        Endpoints(
            "postgresql://postgres:@/ioc?host=/tmp/x y/data",
            "mqtt://127.0.0.1:1",
            "http://h",
            "t",
            True,
            True,
        )
    )
    (line,) = [x for x in embedded.splitlines() if x.startswith("SQL:")]
    assert shlex.split(line.removeprefix("SQL:").strip())[1].endswith("host=/tmp/x y/data")
