"""Mosquitto fixtures: the shared test broker, and brokers a test owns (to kill or restart).

``IOC_TEST_MQTT_URL`` points the tests at a given broker; otherwise the session starts its own
``mosquitto`` on a free loopback port with the repo's ``mosquitto/mosquitto.conf`` settings.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ioc.ports import free_port

REPO = Path(__file__).resolve().parents[2]
REPO_CONF = REPO / "mosquitto" / "mosquitto.conf"
# Directives of the shipped config that tie it to a deployment (ports, files, auth).
DEPLOYMENT_DIRECTIVES = (
    "listener",
    "port",
    "persistence_location",
    "log_dest",
    "password_file",
    "acl_file",
    "allow_anonymous",
    "cafile",
    "certfile",
    "keyfile",
    "include_dir",
    "pid_file",
    "user",
)


def tuning_from_repo_conf() -> list[str]:
    """The shipped config's tuning lines (queues, in-flight window, limits) without its ports."""
    if not REPO_CONF.exists():
        return []
    lines = []
    for raw in REPO_CONF.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and line.split()[0] not in DEPLOYMENT_DIRECTIVES:
            lines.append(line)
    return lines


class Mosquitto:
    """A mosquitto process on a free loopback port, with persistence in its own directory."""

    def __init__(self, extra_conf: str = "", port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="ioc-mosq-"))
        self.extra_conf = extra_conf
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def write_conf(self) -> Path:
        conf = self.dir / "mosquitto.conf"
        body = [
            f"listener {self.port} 127.0.0.1",
            # Run as whoever runs the tests (as root, mosquitto would otherwise switch to the
            # `mosquitto` user, which cannot write this private directory).
            f"user {getpass.getuser()}",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.dir}/",
            f"log_dest file {self.dir}/mosquitto.log",
            *tuning_from_repo_conf(),
            self.extra_conf,
        ]
        conf.write_text("\n".join(body) + "\n")
        return conf

    def start(self) -> Mosquitto:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen(
            [binary, "-c", str(self.write_conf())],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (self.dir / "mosquitto.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {log}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening within 10 s")

    def stop(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop(kill=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def mqtt_url() -> Iterator[str]:
    """URL of the broker the tests share."""
    given = os.environ.get("IOC_TEST_MQTT_URL")
    if given:
        yield given
        return
    broker = Mosquitto().start()
    yield broker.url
    broker.close()


@pytest.fixture
def own_broker() -> Iterator[Mosquitto]:
    """A broker this test alone uses and may stop, kill or restart."""
    broker = Mosquitto().start()
    yield broker
    broker.close()
