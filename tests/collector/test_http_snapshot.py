"""The http_snapshot check (the docs' example vendor) against a loopback snapshot server."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from collector.checks.base import CheckError, Sample, Target
from collector.checks.http_snapshot import SnapshotCheck, SnapshotParams
from collector.inventory import parse_inventory

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 20  # ~5 KB that starts like a JPEG


class Camera(ThreadingHTTPServer):
    """Answers every GET with ``status``, ``content_type`` and ``body`` after ``delay_s``."""

    daemon_threads = True
    status, content_type, body, delay_s = 200, "image/jpeg", JPEG, 0.0


class Handler(BaseHTTPRequestHandler):
    server: Camera

    def do_GET(self) -> None:
        time.sleep(self.server.delay_s)
        self.send_response(self.server.status)
        self.send_header("Content-Type", self.server.content_type)
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def camera() -> Iterator[Camera]:
    server = Camera(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def poll(camera: Camera, **params: Any) -> Sample:
    p = SnapshotParams.model_validate({"port": camera.server_address[1], **params})
    check = SnapshotCheck(Target("cam-1", "camera", "21025", "127.0.0.1", 60), p, lambda n: "pw")

    async def run() -> Sample:
        try:
            return await check.poll()
        finally:
            await check.close()

    return asyncio.run(run())


def failure(camera: Camera, **params: Any) -> CheckError:
    with pytest.raises(CheckError) as info:
        poll(camera, **params)
    return info.value


def test_a_jpeg_in_time_is_healthy(camera: Camera) -> None:
    assert poll(camera).meta == {"snapshot_bytes": len(JPEG)}


def test_not_an_image_is_a_parse_error(camera: Camera) -> None:
    camera.content_type, camera.body = "text/html", b"<html>login</html>"
    error = failure(camera)
    assert error.kind == "parse" and "text/html" in error.reason
    assert "login" not in error.reason  # the device's answer is not quoted


def test_a_jpeg_type_must_carry_a_jpeg(camera: Camera) -> None:
    camera.body = b"GIF89a" + bytes(5000)
    assert "not a JPEG" in failure(camera).reason


def test_a_tiny_frame_is_not_plausible(camera: Camera) -> None:
    camera.body = JPEG[:500]
    error = failure(camera, min_bytes=1000)
    assert error.kind == "parse" and "500-byte" in error.reason


def test_a_huge_answer_is_refused(camera: Camera) -> None:
    assert failure(camera, max_bytes=3000).kind == "too_large"


def test_refused_credentials_are_auth(camera: Camera) -> None:
    camera.status = 401
    assert failure(camera, username="admin", password_env="CAM_PASS").kind == "auth"


def test_a_slow_camera_misses_the_deadline(camera: Camera) -> None:
    camera.delay_s = 1.0
    assert failure(camera, timeout_s=0.2).kind == "timeout"


def test_one_registry_line_makes_it_an_inventory_check() -> None:
    inventory = parse_inventory(
        "devices:\n"
        '  - {id: col-1, type: collector, commune: "21025", name: C}\n'
        '  - {id: cam-1, type: camera, commune: "21025", name: K, address: 127.0.0.1,\n'
        "     collector: col-1, checks: {http_snapshot: {path: /cgi-bin/snap.jpg}}}\n"
    )
    (watched,) = inventory.watched_by("col-1")
    (planned,) = watched.checks
    assert planned.name == "http_snapshot"
    assert isinstance(planned.params, SnapshotParams)
    assert planned.params.path == "/cgi-bin/snap.jpg"


def test_the_docs_example_is_the_code() -> None:
    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "collector.md").read_text(encoding="utf-8")
    section = doc.split("## Adding a vendor", 1)[1].split("\n## ", 1)[0]
    (line,) = re.findall(r"```python\n(.*?)```", section, re.S)
    assert line in (root / "collector" / "registry.py").read_text(encoding="utf-8")
    (block,) = re.findall(r"```yaml\n(.*?)```", section, re.S)
    (watched,) = parse_inventory(block, "docs/collector.md").watched_by("col-1")
    assert [c.name for c in watched.checks] == ["ping", "http_snapshot"]
