"""``ioc drill`` against real PostgreSQL and Mosquitto (and the real ``ioc ingest``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from click.testing import CliRunner
from paho.mqtt.enums import CallbackAPIVersion

from devices.registry import load_file
from devices.store import import_registry
from ioc.cli import cli
from simulators.cli import drill
from tests.plugins.broker import Mosquitto
from tests.util import wait_until

DEMO = Path(__file__).resolve().parents[2] / "devices" / "data" / "demo_commune.yaml"

READY = "SELECT count(*) FROM device_status WHERE device_id = %(device)s AND online"
VIDEO_LOSS = f"""
name: video loss
registry: {DEMO}
speed: 60
duration: 10m
faults:
  - {{at: 30s, fault: video_loss, target: ts-cam-01, duration: 5m}}
expect:
  mode: data
"""


def env_for(db_url: str, broker: Mosquitto) -> dict[str, str]:
    return {
        **os.environ,
        "IOC_DATABASE_URL": db_url,
        "IOC_MQTT_URL": broker.url,
        "IOC_SIM_DRILL_POLL_S": "0.2",
        "IOC_SIM_DRILL_GRACE_S": "2",
    }


@pytest.fixture
def ingest(db_url: str, own_broker: Mosquitto) -> Iterator[subprocess.Popen[bytes]]:
    """The real ingest service consuming the test broker into the test database."""
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "ioc"), "ingest", "--workers", "1"],
        env=env_for(db_url, own_broker),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    with psycopg.connect(db_url, autocommit=True) as conn:
        import_registry(conn, load_file(DEMO), "demo")
        probe = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        probe.connect("127.0.0.1", own_broker.port)
        probe.loop_start()

        def seen() -> bool:
            # Not retained: only a subscribed ingest can see it, so this proves it is ready.
            probe.publish("ioc/v1/21025/ts-nvr-02/status", b"online", qos=1)
            row = conn.execute(READY, {"device": "ts-nvr-02"}).fetchone()
            return bool(row and row[0])

        try:
            wait_until(seen, 30, interval=0.5, message="ingest consuming")
        finally:
            probe.loop_stop()
            probe.disconnect()
    yield proc
    proc.kill()
    proc.wait(10)


def run_drill(path: Path, db_url: str, broker: Mosquitto, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(drill, [str(path), *args], env=env_for(db_url, broker))
    return result.exit_code, result.output


def test_drill_fails_with_a_readable_diff_when_nothing_ingests(
    tmp_path: Path, db_url: str, own_broker: Mosquitto
) -> None:
    path = tmp_path / "video.yaml"
    path.write_text(VIDEO_LOSS.replace("duration: 10m", "duration: 2m"))
    code, output = run_drill(path, db_url, own_broker)
    assert code == 1, output
    assert "check mode data" in output
    assert "FAIL data metric ts-cam-01 fps = 0" in output
    assert "expected: ≥ 1" in output and "actual:   0" in output
    assert "0/2 expectations met" in output


def test_drill_passes_against_ingest(
    tmp_path: Path, db_url: str, own_broker: Mosquitto, ingest: subprocess.Popen[bytes]
) -> None:
    path = tmp_path / "video.yaml"
    path.write_text(VIDEO_LOSS)
    code, output = run_drill(path, db_url, own_broker)
    assert code == 0, output
    assert "PASS data metric ts-cam-01 fps = 0" in output
    assert "PASS data event ts-cam-01 video_loss" in output


def test_bad_scenario_file_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nfaults:\n  - {at: 1m, fault: meteor, target: ts-uplink}\n")
    result = CliRunner().invoke(cli, ["drill", str(path), "--check-only"])
    assert result.exit_code == 1
    assert f"{path}:3: faults[0].fault: unknown fault 'meteor'" in result.output
