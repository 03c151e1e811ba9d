"""`ioc demo` end to end: the stack comes up, devices report, an alert fires, Ctrl-C stops it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from ioc.ports import free_port
from tests.util import wait_until

CONSOLE = re.compile(r"\(user (\S+), password (\S+)\)")
TOKEN = re.compile(r"Operator token:\s+(\S+)")


class DemoProcess:
    """`ioc demo` as a subprocess whose output is collected in a file."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.log = Path(tempfile.mkstemp(prefix="ioc-demo-", suffix=".log")[1])
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ioc", "demo", "--api-port", str(self.port)],
            env={**os.environ, **env, "IOC_API_PORT": str(self.port), "PYTHONUNBUFFERED": "1"},
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def token(self) -> str | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"ioc demo exited early:\n{self.output()[-3000:]}")
        found = TOKEN.search(self.output())
        return found.group(1) if found else None

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                return self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise
        return self.proc.returncode


@contextmanager
def _run_demo(env: dict[str, str]) -> Iterator[tuple[DemoProcess, httpx.Client]]:
    demo = DemoProcess(env)
    try:
        token = wait_until(demo.token, timeout=120, interval=0.5, message="the demo banner")
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{demo.port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        yield demo, client
        client.close()
    finally:
        code = demo.stop()
    assert code == 0, demo.output()[-3000:]
    assert "demo stopped" in demo.output()


def _live_telemetry(client: httpx.Client) -> bool:
    devices = client.get("/api/v1/devices", params={"limit": 500}).json()["data"]
    if len(devices) < 100:
        return False
    state = client.get("/api/v1/devices/ts-cam-01/state").json()
    return bool(state.get("latest"))


def _fired(client: httpx.Client) -> bool:
    alerts = client.get("/api/v1/alerts", params={"state": "firing"}).json()["data"]
    return len(alerts) > 0


def _console_shows_incidents(demo: DemoProcess) -> None:
    """The banner's console login works over the demo's plain http and lists incidents."""
    found = CONSOLE.search(demo.output())
    assert found, demo.output()[-2000:]
    with httpx.Client(base_url=f"http://127.0.0.1:{demo.port}", timeout=10) as browser:
        form = browser.get("/console/login").text
        csrf = re.search(r'name="csrf" value="([^"]*)"', form)
        assert csrf
        r = browser.post(
            "/console/login",
            data={"username": found.group(1), "password": found.group(2), "csrf": csrf.group(1)},
        )
        assert r.status_code == 303, r.text[-500:]
        page = browser.get("/console/")
        assert page.status_code == 200 and 'id="incidents"' in page.text


def _check_stack(demo: DemoProcess, client: httpx.Client) -> None:
    wait_until(lambda: _live_telemetry(client), timeout=90, interval=1, message="live telemetry")
    wait_until(lambda: _fired(client), timeout=120, interval=1, message="a firing alert")
    _console_shows_incidents(demo)
    wait_until(lambda: "notification" in demo.output(), timeout=60, interval=1,
               message="an alert printed on the console")  # fmt: skip


@pytest.mark.slow
def test_demo_with_embedded_services() -> None:
    """No PostgreSQL and no broker reachable: the demo starts embedded ones and works."""
    env = {"IOC_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/ioc",
           "IOC_MQTT_URL": f"mqtt://127.0.0.1:{free_port()}"}  # fmt: skip
    with _run_demo(env) as (demo, client):
        assert "starting an embedded one" in demo.output()
        assert "in-process broker" in demo.output()
        _check_stack(demo, client)


@pytest.mark.slow
def test_demo_uses_configured_services(empty_db_url: str, mqtt_url: str) -> None:
    """With PostgreSQL and a broker reachable, the demo uses them."""
    env = {"IOC_DATABASE_URL": empty_db_url, "IOC_MQTT_URL": mqtt_url}
    with _run_demo(env) as (demo, client):
        assert "using the configured server" in demo.output()
        assert "using the configured broker" in demo.output()
        _check_stack(demo, client)
