"""Issue 23, class 4 on the collector: bounded reads and writes at the edges, with generated
hostile inputs. Slow or huge requests get 408/413 within the documented deadlines, deep JSON a
4xx, connections beyond the cap 503; a push flood and a check failing in ever new words make a
bounded number of events; a hostile ``--api`` inventory (huge, slow, deep, an alias bomb, not
UTF-8, an error status) falls back to the cache within the deadline; ``checks`` are bounded."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.checks.base import Check, CheckError, Sample, Target
from collector.fetch import CACHE, inventory_from_api
from collector.scheduler import Scheduler
from collector.settings import CollectorSettings
from devices.registry import parse_yaml
from ioc.secretfile import write_secret
from tests.collector.edge import HOOK_TOKEN, edge, inventory
from tests.util import wait_until

HEADER_S, BODY_S = 0.5, 0.5
BOUNDS = {
    "receiver_header_timeout_s": HEADER_S,
    "receiver_body_timeout_s": BODY_S,
    "receiver_max_connections": 16,
}
GOOD = {"Authorization": f"Bearer {HOOK_TOKEN}"}


def _raw(port: int, data: bytes, drip: bytes = b"", every_s: float = 0.0) -> tuple[bytes, float]:
    """Send ``data`` then ``drip`` one byte per ``every_s``; the answer and when it came."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        s.settimeout(every_s or 10)
        answer = b""
        for byte in drip:
            try:
                s.sendall(bytes([byte]))
                answer = s.recv(4096)
                if answer:
                    break
            except (TimeoutError, BlockingIOError):
                continue
            except OSError:
                break
        s.settimeout(10)
        with contextlib.suppress(OSError):
            answer = answer or s.recv(4096)
    return answer, time.monotonic() - start


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    connections=st.integers(1, 40),
    stage=st.sampled_from(["headers", "body"]),
    every_s=st.sampled_from([0.05, 0.2]),
)
def test_slowloris_gets_408_within_the_deadline_and_good_requests_still_pass(
    tmp_path_factory: pytest.TempPathFactory, connections: int, stage: str, every_s: float
) -> None:
    with edge(tmp_path_factory.mktemp("e"), **BOUNDS) as rig:
        head = b"POST /hooks/h1 HTTP/1.1\r\nHost: x\r\n"
        if stage == "body":
            head += b"Content-Length: 1000\r\nAuthorization: Bearer " + HOOK_TOKEN.encode()
            head += b"\r\n\r\n"
        results: list[tuple[bytes, float]] = []
        threads = [
            threading.Thread(
                target=lambda: results.append(_raw(rig.port, head, b"x" * 200, every_s))
            )
            for _ in range(connections)
        ]
        for t in threads:
            t.start()
        time.sleep(0.1)
        # A well-behaved client is served meanwhile (or told 503 once the cap is reached).
        resp = httpx.post(f"{rig.url}/hooks/h1", json={"v": 1}, headers=GOOD, timeout=5)
        assert resp.status_code in ((202,) if connections < 16 else (202, 503))
        for t in threads:
            t.join(10)
        assert len(results) == connections
        deadline = HEADER_S + (BODY_S if stage == "body" else 0)
        for answer, took in results:
            # 408 (too slow), 503 (over the cap), or b"": reset while the client still wrote
            assert answer.startswith((b"HTTP/1.1 408", b"HTTP/1.1 503")) or not answer, answer
            assert took < deadline + every_s + 1.0
        server = rig.collector.receiver
        assert server is not None
        wait_until(lambda: server.active == 0, 5, 0.02, "every connection closed")


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(length=st.integers(1_048_577, 10**15), path=st.sampled_from(["/hooks/h1", "/hikvision"]))
def test_a_huge_content_length_is_413_at_once(
    tmp_path_factory: pytest.TempPathFactory, length: int, path: str
) -> None:
    with edge(tmp_path_factory.mktemp("e"), **BOUNDS) as rig:
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode()
        answer, took = _raw(rig.port, head)
        assert answer.startswith(b"HTTP/1.1 413") and took < HEADER_S


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(depth=st.integers(33, 200_000), kind=st.sampled_from(["[", '{"a":']))
def test_deep_json_is_a_4xx_not_a_500(
    tmp_path_factory: pytest.TempPathFactory, depth: int, kind: str
) -> None:
    with edge(tmp_path_factory.mktemp("e"), **BOUNDS) as rig:
        close = "]" if kind == "[" else "}"
        body = (kind * depth + "1" + close * depth)[:1_048_576]
        resp = httpx.post(
            f"{rig.url}/hooks/h1",
            content=body,
            headers={**GOOD, "Content-Type": "application/json"},
            timeout=10,
        )
        assert 400 <= resp.status_code < 500, resp.text


BAD_XML = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda t: f"<EventNotificationAlert>{t}".encode()),
    st.integers(1, 10**6).map(lambda n: f"<a>{n}</b>".encode()),
)


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(bodies=st.lists(BAD_XML, min_size=100, max_size=300))
def test_a_push_flood_makes_a_bounded_number_of_events(
    tmp_path_factory: pytest.TempPathFactory, bodies: list[bytes]
) -> None:
    with edge(tmp_path_factory.mktemp("e"), push_allow="127.0.2.0/28", **BOUNDS) as rig:
        transport = httpx.HTTPTransport(local_address="127.0.2.10")  # cam-0
        with httpx.Client(transport=transport, timeout=5) as client:
            codes = [
                client.post(
                    f"{rig.url}/hikvision", content=body, headers={"Content-Type": "text/xml"}
                ).status_code
                for body in bodies
            ]
        assert all(400 <= c < 500 for c in codes)
        assert len(rig.events("check_error")) == 1  # one per device per repeat_s (300 s)
        assert rig.collector.scheduler.health.push_errors == len(bodies)
        # Unknown senders: refused, counted, not an event each.
        stranger = httpx.HTTPTransport(local_address="127.0.3.7")
        with httpx.Client(transport=stranger, timeout=5) as client:
            assert {
                client.post(f"{rig.url}/hikvision", content=b"<x/>").status_code for _ in range(50)
            } == {403}
        assert len(rig.events("check_error")) == 1


class _Flaky(Check):
    name = "flaky"

    def __init__(self) -> None:
        super().__init__(
            Target("d1", "camera", "21025", "127.0.0.1", 1), Check.Params(), {}.__getitem__
        )
        self.reasons: list[str] = []

    async def poll(self) -> Sample:
        raise CheckError(self.reasons.pop(0), kind="error")


@settings(max_examples=40, deadline=None)
@given(reasons=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=60))
def test_a_check_failing_in_ever_new_words_makes_one_event(reasons: list[str]) -> None:
    recorded: list[Sample] = []
    check = _Flaky()
    check.reasons = list(reasons)
    scheduler = Scheduler([check], lambda c, s: recorded.append(s), repeat_s=300)

    async def go() -> None:
        for _ in reasons:
            await scheduler.poll_once(check, 1.0)

    asyncio.run(go())
    assert len([e for s in recorded for e in s.events if e.type == "check_error"]) == 1
    assert scheduler.health.errors[("d1", "flaky")].startswith("error: ")


GOOD_INVENTORY = inventory(1)


def _hostile(kind: str, size: int) -> tuple[int, dict[str, str], bytes, float]:
    """(status, headers, body, drip seconds per chunk) of a hostile inventory answer."""
    if kind == "huge":
        return 200, {}, b"devices: []\n#" + b"x" * size, 0.0
    if kind == "drip":
        return 200, {}, GOOD_INVENTORY.encode(), 0.3
    if kind == "deep":
        return 200, {}, b"devices: " + b"[" * size + b"]" * size, 0.0
    if kind == "bomb":
        lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
        lines += [f"a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * 10)}]" for i in range(1, 8)]
        body = "\n".join(lines) + (
            '\ndevices: [{id: d, type: camera, commune: "21025", name: D, address: 127.0.0.1, '
            "collector: col-1, checks: {ping: {x: *a7}}}]\n"
        )
        return 200, {}, body.encode(), 0.0
    if kind == "latin1":
        return 200, {}, b"devices: [\xff\xfe]", 0.0
    if kind == "lie":
        return 200, {"Content-Length": str(10**12)}, b"", 0.0
    if kind == "invalid":
        return 200, {}, b"devices: [{id: 1}]", 0.0
    return {"500": 500, "401": 401, "302": 302}[kind], {}, b"no", 0.0


class _Api(BaseHTTPRequestHandler):
    answer: tuple[int, dict[str, str], bytes, float] = (200, {}, b"", 0.0)

    def do_GET(self) -> None:
        status, headers, body, drip = _Api.answer
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if drip:
                for i in range(0, len(body), 16):
                    self.wfile.write(body[i : i + 16])
                    self.wfile.flush()
                    time.sleep(drip)
            else:
                self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    kind=st.sampled_from(
        ["huge", "drip", "deep", "bomb", "latin1", "lie", "invalid", "500", "401", "302"]
    ),
    size=st.integers(70_000, 400_000),
)
def test_a_hostile_inventory_falls_back_to_the_cache_within_the_deadline(
    api: str, tmp_path_factory: pytest.TempPathFactory, kind: str, size: int
) -> None:
    state = tmp_path_factory.mktemp("state")
    write_secret(state / CACHE, GOOD_INVENTORY)
    _Api.answer = _hostile(kind, size)
    csettings = CollectorSettings(
        state_dir=state,
        inventory_max_bytes=65_536,
        inventory_timeout_s=1.0,
    )
    start = time.monotonic()
    inv = inventory_from_api(api, "iocc_x", csettings)
    assert time.monotonic() - start < 2.5
    assert {d.id for d in inv.devices} == {d.id for d in parse_yaml(GOOD_INVENTORY).devices}
    assert (state / CACHE).read_text() == GOOD_INVENTORY  # the good copy is kept


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(levels=st.integers(6, 12), fan=st.integers(5, 12))
def test_checks_are_bounded_like_metadata(levels: int, fan: int) -> None:
    anchors = ['&a0 ["xxxxxxxx"]']
    anchors += [f"&a{i} [{', '.join(['*a' + str(i - 1)] * fan)}]" for i in range(1, levels)]
    doc = (
        'devices: [{id: d, type: camera, commune: "21025", name: D, address: 127.0.0.1, '
        f"collector: c, checks: {{http_json: {{bomb: [{', '.join(anchors)}]}}}}}}]\n"
    )
    start = time.monotonic()
    registry = parse_yaml(doc, "inv.yaml")
    assert time.monotonic() - start < 2.0
    bounded = ("elements", "bytes once encoded", "levels deep")
    assert any("checks" in e and any(b in e for b in bounded) for e in registry.errors), (
        registry.errors
    )


def test_deep_checks_are_an_error_not_a_crash() -> None:
    deep = "[" * 3000 + "]" * 3000
    doc = f"devices: [{{id: d, type: camera, commune: '21025', name: D, checks: {{x: {deep}}}}}]"
    assert parse_yaml(doc, "inv.yaml").errors


def test_receiver_serves_a_cap_of_connections(tmp_path: Path) -> None:
    with edge(tmp_path, **{**BOUNDS, "receiver_max_connections": 4}) as rig:
        idle = [socket.create_connection(("127.0.0.1", rig.port)) for _ in range(4)]
        time.sleep(0.1)
        answer, took = _raw(rig.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 503") and took < HEADER_S
        for s in idle:
            s.settimeout(5)
            assert s.recv(100).startswith(b"HTTP/1.1 408")
            s.close()
        assert httpx.post(f"{rig.url}/hooks/h1", json={"v": 1}, headers=GOOD).status_code == 202
