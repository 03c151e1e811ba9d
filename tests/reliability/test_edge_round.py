"""Issue 23, "done when": the reliability round gains the collector's edge listeners.

While devices stream telemetry and poison into ingest, a collector (``ioc collector run``,
its own process) starts from a hostile ``--api`` (one byte at a time: it must start from its
cache within its deadline), then its receiver is hit by slowloris connections (well beyond its
connection cap), a flood of bad pushes and pushes from strangers, while a vendor platform keeps
pushing good readings (retrying what the connection cap refused with 503, as a platform
does). Every good reading the receiver accepted (202) is stored, every message
the devices' broker acknowledged is stored, the collector's heartbeat never stops for long,
and the flood makes one event, not hundreds.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg
import pytest

from collector.fetch import CACHE
from devices.registry import parse_yaml
from devices.store import import_registry
from ioc.ports import free_port
from ioc.secretfile import write_secret
from tests.collector.harness import CollectorProcess
from tests.plugins.pgcluster import PgCluster
from tests.reliability import rig
from tests.reliability.harness import COMMUNE, IngestProcess
from tests.reliability.test_faults import assert_clean
from tests.util import wait_until

HOOK = "edge-hook-token-3k"
INVENTORY = f"""
devices:
  - {{id: rel-col, type: collector, commune: "{COMMUNE}", name: "Bộ thu thập", interval_s: 1}}
  - {{id: rel-spk, type: speaker, commune: "{COMMUNE}", name: "Loa nền tảng", address: 127.0.0.1,
     collector: rel-col, interval_s: 1,
     checks: {{http_json: {{webhook_id: spk, webhook_token_env: HOOK,
                           metrics: {{volume: {{path: v}}}}}}}}}}
"""
SLOW_CONNECTIONS = 150
FLOOD = 300
GOOD_PUSHES = 60


class _Drip(BaseHTTPRequestHandler):
    """A hostile inventory API: a valid-looking answer, one byte every 0.2 s."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(100):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hostile_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _slowloris(port: int, stop: threading.Event, answers: list[bytes]) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"POST /hooks/spk HTTP/1.1\r\nHost: x\r\n")
            s.settimeout(0.3)
            while not stop.is_set():
                try:
                    s.sendall(b"X")
                    data = s.recv(200)
                    answers.append(data)
                    return
                except TimeoutError:
                    continue
    except OSError as exc:
        answers.append(repr(exc).encode())


def _heartbeat_gap(url: str, since: float) -> float:
    """Longest gap between the collector's heartbeats stored since ``since`` (epoch s)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM time) FROM telemetry WHERE device_id = 'rel-col' "
            "AND metric = 'devices_watched' AND time >= to_timestamp(%s) ORDER BY time",
            (since,),
        ).fetchall()
    marks = [float(r[0]) for r in rows]
    return max((b - a for a, b in itertools.pairwise(marks)), default=float("inf"))


def _count(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def test_edge_listeners_under_attack(
    pg: PgCluster, sizes: rig.Sizes, tmp_path: Path, hostile_api: str
) -> None:
    with psycopg.connect(pg.url, autocommit=True) as conn:
        import_registry(conn, parse_yaml(INVENTORY, "edge.yaml"), "edge.yaml")
    port = free_port()
    state = tmp_path / "state"
    write_secret(state / CACHE, INVENTORY)  # the last good inventory
    with rig.run(pg, sizes, tmp_path) as r:
        edge_ingest = IngestProcess(pg.url, r.broker.url, "ioc/v1", str(tmp_path / "edge.log"))
        edge_ingest.env["IOC_INGEST_GROUP"] = "rel-edge"  # not a member of the run's group
        edge_ingest.start()
        collector = CollectorProcess(
            tmp_path,
            "",
            r.broker.url,
            secrets={"HOOK": HOOK},
            api=hostile_api,
            ioc_collector_id="rel-col",
            ioc_collector_token="iocc_unused",
            ioc_collector_webhook_port=port,
            ioc_collector_inventory_timeout_s=1,
            ioc_collector_receiver_header_timeout_s=1,
            ioc_collector_receiver_body_timeout_s=1,
            ioc_collector_receiver_max_connections=32,
        )
        try:
            r.send([(r.stream(sizes.messages), sizes.rate)])
            r.wait_flowing(100)
            started = time.time()
            collector.start()
            good = {"Authorization": f"Bearer {HOOK}"}
            wait_until(
                lambda: _post(port, "/hooks/spk", b'{"v": 0}', good) == 202,
                15,
                0.1,
                "the collector started from its cache and serves pushes",
            )
            assert "using the cached inventory" in collector.log_text()
            stop = threading.Event()
            answers: list[bytes] = []
            slow = [
                threading.Thread(target=_slowloris, args=(port, stop, answers), daemon=True)
                for _ in range(SLOW_CONNECTIONS)
            ]
            for t in slow:
                t.start()
            accepted, flood_codes = 1, []
            for i in range(1, max(FLOOD, GOOD_PUSHES) + 1):
                if i <= FLOOD:
                    body = f'{{"v": [{i}'.encode()  # never JSON
                    flood_codes.append(_post(port, "/hooks/spk", body, good))
                    flood_codes.append(_post(port, "/hikvision", b"<x/>", {}))
                if i <= GOOD_PUSHES:  # the platform retries what the cap refused (503)
                    body = f'{{"v": {i % 100}}}'.encode()
                    wait_until(lambda b=body: _post(port, "/hooks/spk", b, good) == 202, 10, 0.05)  # type: ignore[misc]
                    accepted += 1
                    time.sleep(0.002)  # readings of one device need distinct milliseconds
            stop.set()
            for t in slow:
                t.join(10)
            r.recovered(time.monotonic())
            row = r.finish("edge listeners under attack")
            wait_until(
                lambda: _count(pg.url, VOLUME) >= accepted, 20, 0.2, "accepted pushes stored"
            )
            errors = _count(pg.url, ERRORS)
            gap = _heartbeat_gap(pg.url, started + 3)
        finally:
            collector.stop()
            edge_ingest.close()
    assert_clean(row)
    assert _count(pg.url, VOLUME) == accepted
    assert set(flood_codes) <= {400, 403, 503}, set(flood_codes)
    # Each slow connection was answered 408 (too slow) or 503 (over the cap), or reset by the
    # server closing it while the client was still writing; none was left open.
    closed = (b"HTTP/1.1 408", b"HTTP/1.1 503", b"ConnectionResetError", b"BrokenPipeError")
    assert all(a.startswith(closed) for a in answers), [a[:40] for a in answers]
    assert len(answers) == SLOW_CONNECTIONS
    assert errors == 1, errors  # the flood: one check_error event
    assert gap < 3.5, gap  # the collector kept ticking


VOLUME = "SELECT count(*) FROM telemetry WHERE device_id = 'rel-spk' AND metric = 'volume'"
ERRORS = "SELECT count(*) FROM device_events WHERE device_id = 'rel-spk' AND type = 'check_error'"


_CLIENT = httpx.Client(timeout=5)


def _post(port: int, path: str, body: bytes, headers: dict[str, str]) -> int:
    try:
        return _CLIENT.post(
            f"http://127.0.0.1:{port}{path}", content=body, headers=headers
        ).status_code
    except httpx.HTTPError:
        return 0
