"""`ioc devices credentials write --nats-auth`: bcrypt logins and permissions on the bus,
applied by a reload (no restart): a device publishes only its own topics, ingest only reads."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner
from paho.mqtt.enums import CallbackAPIVersion

from devices.cli import group
from ioc.bus.local import AUTH_FILE, LocalCluster
from tests.bus.conftest import BusIngest
from tests.bus.harness import stored, wait_stored
from tests.util import wait_until


def cli(db_url: str, *args: str) -> str:
    result = CliRunner().invoke(
        group, ["credentials", *args], env={"IOC_DATABASE_URL": db_url}, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def secrets(csv_text: str) -> dict[str, str]:
    return {r["username"]: r["password"] for r in csv.DictReader(io.StringIO(csv_text))}


def mqtt_publish(port: int, user: str, password: str, topic: str, seq: int) -> str:
    """Connect and publish one QoS 1 reading: 'acked', 'refused' or 'dropped'."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"c-{user}", protocol=mqtt.MQTTv311)
    client.username_pw_set(user, password)
    codes: list[object] = []
    client.on_connect = lambda _c, _u, _f, rc, _p: codes.append(rc)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        # The first accepted MQTT login makes NATS create its replicated MQTT streams (a Raft
        # election per stream) before it answers: slow on a busy machine.
        wait_until(lambda: codes, 45, message="CONNACK")
        if codes[0].is_failure:  # type: ignore[attr-defined]
            return "refused"
        ts = (datetime.now(UTC) - timedelta(seconds=10 - seq)).isoformat()
        body = {"ts": ts, "seq": seq, "metrics": {"bitrate_kbps": seq}}
        info = client.publish(topic, json.dumps(body), qos=1)
        try:
            info.wait_for_publish(timeout=3)
        except (RuntimeError, ValueError):
            return "dropped"
        return "acked" if info.is_published() else "dropped"
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def secured_bus(tmp_path: Path) -> LocalCluster:
    cluster = LocalCluster(tmp_path / "bus", 3, auth=True).start(prepare=False)
    yield cluster  # type: ignore[misc]
    cluster.stop()


def test_bus_logins_and_permissions(
    secured_bus: LocalCluster, registry: str, bus_ingest: BusIngest
) -> None:
    bus = secured_bus
    pids = [n.proc.pid for n in bus.nodes if n.proc]
    devices = secrets(cli(registry, "issue", "ts-cam-01", "th-cam-01"))
    ingest_secret = secrets(cli(registry, "issue", "--service", "ingest"))["_ioc_ingest"]
    out = cli(registry, "write", "--nats-auth", str(bus.dir / AUTH_FILE))
    assert "changed" in out
    bus.reload()
    port = bus.nodes[1].mqtt_port
    own = "ioc/v1/21025/ts-cam-01/telemetry"
    wait_until(
        lambda: mqtt_publish(port, "ts-cam-01", "wrong", own, 0) == "refused",
        15,
        message="the reloaded config refusing a wrong password",
    )
    nats_urls = ",".join(
        u.replace("nats://", f"nats://_ioc_ingest:{ingest_secret}@") for u in bus.nats_urls
    )
    mqtt_urls = ",".join(
        u.replace("mqtt://", f"mqtt://_ioc_ingest:{ingest_secret}@") for u in bus.mqtt_urls
    )
    bus_ingest(registry, nats_urls=nats_urls, mqtt_urls=mqtt_urls)
    assert mqtt_publish(port, "ts-cam-01", devices["ts-cam-01"], own, 1) == "acked"
    other = "ioc/v1/21026/th-cam-01/telemetry"  # another device's topic
    forged = mqtt_publish(port, "ts-cam-01", devices["ts-cam-01"], other, 2)
    assert mqtt_publish(port, "nobody", "x", own, 3) == "refused"
    wait_stored(registry, {1}, 20)

    async def ingest_publishes() -> list[str]:
        errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc))

        nc = await nats.connect(servers=nats_urls.split(","), error_cb=on_error)
        await nc.publish("ioc.v1.21025.ts-cam-01.telemetry", b"{}")
        await nc.flush()
        await asyncio.sleep(0.5)
        await nc.close()
        return errors

    errors = asyncio.run(ingest_publishes())
    rows, seqs = stored(registry)
    print(
        f"\n[bus credentials] own topic stored: {1 in seqs}; another device's topic: {forged}, "
        f"stored: {2 in seqs}; ingest publishing: {errors[:1]}; pids unchanged: "
        f"{pids == [n.proc.pid for n in bus.nodes if n.proc]}"
    )
    assert seqs == {1} and rows == 1
    assert any("ermissions" in e for e in errors)
    assert pids == [n.proc.pid for n in bus.nodes if n.proc], "reloaded, not restarted"
