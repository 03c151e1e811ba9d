"""The collector's Debian package: built by deploy/collector/build-deb.sh, unpacked into a scratch
root (dpkg-deb -x, no install on this machine), its systemd unit's ExecStart run as systemd
would (EnvironmentFile variables expanded), and its heartbeat seen on the broker with the
package's version and the inventory hash.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ioc import __version__
from tests.collector.harness import COMMUNE, inventory_text
from tests.util import wait_until

REPO = Path(__file__).resolve().parents[2]
PREFIX = "/opt/ioc-collector"

pytestmark = [
    pytest.mark.skipif(not shutil.which("dpkg-deb"), reason="needs dpkg-deb (Debian)"),
    pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="needs Debian's python3"),
    pytest.mark.timeout(300),
]


def _unit() -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(REPO / "deploy/collector/ioc-collector.service")
    return unit


def _expand(command: str, env: dict[str, str]) -> list[str]:
    """systemd's ExecStart: $VAR splits into words, ${VAR} stays one word."""
    words: list[str] = []
    for word in shlex.split(command):
        bare = re.fullmatch(r"\$(\w+)", word)
        if bare:
            words += env.get(bare.group(1), "").split()
        else:
            words.append(re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), word))
    return words


def test_the_package_builds_installs_into_a_scratch_root_and_its_unit_runs(
    tmp_path: Path, mqtt_url: str
) -> None:
    built = subprocess.run(
        [str(REPO / "deploy/collector/build-deb.sh"), str(tmp_path / "dist")],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    deb = Path(built.stdout.strip().splitlines()[-1])
    fields = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Package", "Version"], capture_output=True, text=True
    ).stdout
    assert f"Package: ioc-collector\nVersion: {__version__}" in fields
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    service = root / "lib/systemd/system/ioc-collector.service"
    assert service.read_text() == (REPO / "deploy/collector/ioc-collector.service").read_text()
    assert (root / "etc/ioc-collector/collector.env").exists()

    unit = _unit()["Service"]
    state = root / "var/lib/ioc-collector"  # StateDirectory=, under the scratch root
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(inventory_text(1), encoding="utf-8")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        # Environment= of the unit, then what /etc/ioc-collector/collector.env would say here.
        **dict([unit["Environment"].split("=", 1)]),
        "IOC_COLLECTOR_STATE_DIR": str(state),
        "IOC_COLLECTOR_SOURCE": f"--inventory {inventory}",
        "IOC_MQTT_URL": mqtt_url,
        "IOC_COLLECTOR_HEARTBEAT_S": "1",
    }
    command = _expand(unit["ExecStart"].replace(PREFIX, f"{root}{PREFIX}"), env)
    assert command[1:3] == ["collector", "run"]

    seen: list[dict[str, object]] = []
    got = threading.Event()
    broker = urlsplit(mqtt_url)
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        body = json.loads(msg.payload)
        for event in body.get("events", [body]):
            if event.get("type") == "collector_version":
                seen.append(event)
                got.set()

    sub.on_message = on_message
    sub.connect(broker.hostname or "127.0.0.1", broker.port or 1883)
    sub.subscribe(f"ioc/v1/{COMMUNE}/col-1/event", qos=1)
    sub.loop_start()
    log = (tmp_path / "collector.log").open("wb")
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(
            lambda: got.is_set() or proc.poll() is not None,
            60,
            message="the packaged collector's heartbeat with its version",
        )
        assert proc.poll() is None, (tmp_path / "collector.log").read_text()[-3000:]
    finally:
        proc.terminate()
        proc.wait(30)
        sub.loop_stop()
        sub.disconnect()
    data = seen[0]["data"]
    assert isinstance(data, dict)
    assert data["version"] == __version__
    assert re.fullmatch(r"[0-9a-f]{16}", str(data["inventory_hash"]))
    assert proc.returncode == 0  # SIGTERM: a clean stop, the outbox closed
    assert (state / "col-1.outbox.sqlite").exists()
