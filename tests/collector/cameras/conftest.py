"""Camera check fixtures: Hikvision/Dahua/ONVIF HTTP fakes and a real GStreamer RTSP server."""

from __future__ import annotations

import asyncio
import selectors
import subprocess
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from collector.checks.base import Check, Emit, Target
from collector.scheduler import keep_streaming
from simulators.vendors.dahua import FakeDahua
from simulators.vendors.hikvision import FakeHikvision
from simulators.vendors.onvif import FakeOnvif

SYSTEM_PYTHON = "/usr/bin/python3"
GST_SERVER = Path(__file__).with_name("gst_rtsp_server.py")
USER, PASSWORD = "monitor", "Cam-pass-123"
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
    """Run one coroutine to completion, bounded."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def streaming(check: Check, emit: Emit) -> Coroutine[Any, Any, None]:
    """The check's stream kept open as the scheduler does (its one reconnect policy)."""

    def bug(check: Check, kind: str, reason: str) -> None:
        raise AssertionError(f"stream of {check.name} failed: {kind}: {reason}")

    return keep_streaming(check, emit, bug)


def secrets(name: str) -> str:
    return {"CAM_PASS": PASSWORD, "BAD_PASS": "wrong"}[name]


def target(kind: str = "camera", device: str = "cam-01") -> Target:
    return Target(device, kind, "21025", "127.0.0.1", 60)


@pytest.fixture
def hik_camera() -> Iterator[FakeHikvision]:
    fake = FakeHikvision(USER, PASSWORD, heartbeat_s=0.2).start()
    yield fake
    fake.stop()


@pytest.fixture
def hik_nvr() -> Iterator[FakeHikvision]:
    fake = FakeHikvision(USER, PASSWORD, nvr=True, heartbeat_s=0.2).start()
    yield fake
    fake.stop()


@pytest.fixture
def dahua_nvr() -> Iterator[FakeDahua]:
    fake = FakeDahua(USER, PASSWORD, nvr=True, heartbeat_s=0.2).start()
    yield fake
    fake.stop()


@pytest.fixture
def onvif_cam() -> Iterator[FakeOnvif]:
    fake = FakeOnvif(USER, PASSWORD).start()
    yield fake
    fake.stop()


@dataclass
class RtspServer:
    port: int
    fps: int
    proc: subprocess.Popen[str]


def start_rtsp(fps: int = 10, auth: bool = True) -> RtspServer:
    """GStreamer's RTSP server (system python3 + python3-gi) on a free loopback port."""
    probe = subprocess.run(
        [
            SYSTEM_PYTHON,
            "-c",
            "import gi; gi.require_version('GstRtspServer', '1.0'); "
            "from gi.repository import GstRtspServer",
        ],
        capture_output=True,
        timeout=30,
    )
    if probe.returncode != 0:
        pytest.skip(
            "GStreamer RTSP server not installed: apt-get install -y python3-gi "
            "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base "
            "gstreamer1.0-plugins-good"
        )
    cmd = [SYSTEM_PYTHON, str(GST_SERVER), "0", "--fps", str(fps)]
    if auth:
        cmd += ["--user", USER, "--password", PASSWORD]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if sel.select(timeout=0.2):
            line = proc.stdout.readline()
            if line.startswith("READY"):
                return RtspServer(int(line.split()[1]), fps, proc)
            if not line:
                break
    proc.kill()
    raise RuntimeError("GStreamer RTSP server did not start")


@pytest.fixture(scope="session")
def rtsp_server() -> Iterator[RtspServer]:
    server = start_rtsp(fps=10)
    yield server
    server.proc.terminate()
    server.proc.wait(timeout=10)


def collect() -> tuple[list[Any], Callable[[Any], None]]:
    got: list[Any] = []
    return got, got.append
