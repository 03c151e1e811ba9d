"""docker-compose.yml's stack, run as local processes (tests/deploy/stack.py): the console over
https through nginx in chromium, a device publishing over TLS with its own login, plain MQTT
refused from outside, the notification link, and the dead man's switch noticing a dead engine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from alerts.notify.settings import NotifySettings
from alerts.notify.templates import render
from tests.deploy.receiver import Receiver
from tests.deploy.stack import INSIDE, NGINX, SERVICES, Stack
from tests.security.mqtt_helpers import connect
from tests.util import wait_until

pytestmark = [
    pytest.mark.skipif(
        not shutil.which(NGINX), reason="needs Debian's nginx (apt-get install nginx; .ci/run)"
    ),
    pytest.mark.timeout(300),
    pytest.mark.both_paths,  # the compose database is TimescaleDB: CI's second pass runs it
]
DEVICE, COMMUNE = "ts-cam-01", "21025"
PASSWORD = "Tịnh-Sơn-kỹ-thuật-2026"
# MQTT 3.1.1 CONNECT, clean session, empty client id: what a device sends without TLS.
PLAIN_CONNECT = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """The dead man's switch receiver outside the box (grace shrunk from minutes to 2 s)."""
    r = Receiver(grace_s=2.0)
    yield r
    r.close()


@pytest.fixture(scope="module")
def stack(receiver: Receiver) -> Iterator[Stack]:
    """The compose stack, with the timing knobs a docker-compose.override.yml would shrink."""
    s = Stack(
        timescaledb=os.environ.get("IOC_TEST_TIMESCALEDB") == "1",
        overrides={
            "IOC_ALERTS_HEARTBEAT_URL": receiver.url,
            "IOC_ALERTS_HEARTBEAT_INTERVAL_S": "0.5",
        },
    )
    try:
        s.up()
        s.ioc(
            "api",
            "users",
            "create",
            "kt-tinhson",
            "--role",
            "technician",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        yield s
    finally:
        s.close()


def _publish_fps(stack: Stack, fps: float) -> None:
    secret = stack.issue_device(DEVICE)
    ca = str(stack.certs / "devices-ca.crt")
    probe = wait_until(
        lambda: (p := connect(stack.mqtt_tls_port, DEVICE, secret, tls_ca=ca)).connected and p,
        10,
        message="the device's TLS login accepted (after the broker's reload)",
    )
    try:
        body = {"ts": datetime.now(UTC).isoformat(), "seq": 1, "metrics": {"fps": fps}}
        rc = probe.publish(f"ioc/v1/{COMMUNE}/{DEVICE}/telemetry", json.dumps(body).encode())
        assert not rc.is_failure, rc
    finally:
        probe.close()


def test_a_device_publishes_over_tls_with_its_own_login(stack: Stack) -> None:
    _publish_fps(stack, 0.0)
    with psycopg.connect(stack.pg.url) as conn:
        row = wait_until(
            lambda: conn.execute(
                "SELECT value FROM telemetry WHERE device_id = %s AND metric = 'fps'", (DEVICE,)
            ).fetchone(),
            20,
            message="ingest wrote the reading sent over TLS",
        )
    assert row[0] == 0.0


def test_plain_mqtt_is_refused_from_outside(stack: Stack) -> None:
    # Outside = the host's address: only the TLS listener is there. A plain CONNECT to it is
    # not MQTT-over-TLS and gets no CONNACK; the plain port is not bound on it at all.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", stack.mqtt_port), 2).close()
    with socket.create_connection(("127.0.0.1", stack.mqtt_tls_port), 2) as plain:
        plain.sendall(PLAIN_CONNECT)
        plain.settimeout(5)
        try:
            answer = plain.recv(16)
        except (TimeoutError, ConnectionResetError):
            answer = b""
    assert not answer.startswith(b"\x20"), f"CONNACK over plain text: {answer!r}"
    # TLS without a login: refused (allow_anonymous false).
    anon = connect(stack.mqtt_tls_port, None, None, tls_ca=str(stack.certs / "devices-ca.crt"))
    assert anon.connack is not None and anon.connack.is_failure
    anon.close()
    # Inside the compose network the services' plain listener answers.
    socket.create_connection((INSIDE, stack.mqtt_port), 2).close()


def test_the_proxy_serves_tls_only_with_the_deployments_certificate(stack: Stack) -> None:
    public_trust = httpx.Client(verify=ssl.create_default_context())
    with public_trust, pytest.raises(httpx.ConnectError):
        public_trust.get(f"https://localhost:{stack.https_port}/healthz")
    r = httpx.get(f"http://127.0.0.1:{stack.http_port}/console/", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"].startswith("https://")
    assert stack.client().get("/healthz").status_code == 200


def test_notification_link_from_the_compose_environment_opens_the_alert(stack: Stack) -> None:
    with psycopg.connect(stack.pg.url) as conn:
        alert = wait_until(
            lambda: conn.execute(
                "SELECT id, rule, summary FROM alerts WHERE device_id = %s AND state <> 'resolved'",
                (DEVICE,),
            ).fetchone(),
            30,
            message="the engine opened an alert for the camera with fps 0",
        )
    env = stack.env("alerts-1")
    notify = NotifySettings(_env_file=None, public_url=env["IOC_PUBLIC_URL"])  # type: ignore[call-arg]
    payload = {
        "kind": "firing",
        "alerts": [{"id": alert[0], "status": "firing", "rule": alert[1], "summary": alert[2]}],
    }
    text = render(payload, "vi", notify.public_url, ZoneInfo("Asia/Ho_Chi_Minh")).text
    link = re.search(r"https://\S+/console/alerts/\d+", text)
    assert link, text
    with stack.client() as web:
        form = web.get("/console/login")
        csrf = re.search(r'name="csrf" value="([^"]*)"', form.text)
        assert csrf, form.text
        r = web.post(
            "/console/login",
            data={
                "username": "kt-tinhson",
                "password": PASSWORD,
                "csrf": csrf.group(1),
                "next": "/console/",
            },
        )
        assert r.status_code == 303, r.text
        page = web.get(link.group(0))
    assert page.status_code == 200, page.text
    assert str(page.url) == link.group(0)
    assert DEVICE in page.text or "Camera Cổng UBND" in page.text


def test_console_login_over_https_in_chromium(stack: Stack) -> None:
    from tests.deploy.browser import chromium_trusting

    with chromium_trusting(stack.certs / "server.crt") as browser:
        from selenium.webdriver.common.by import By

        browser.get(f"{stack.dotenv['IOC_PUBLIC_URL']}/console/login")
        browser.find_element(By.ID, "username").send_keys("kt-tinhson")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "login").click()
        wait_until(lambda: "/console/login" not in browser.current_url, 15, message="logged in")
        assert browser.current_url.startswith("https://localhost:")
        cookies = browser.get_cookies()
        assert cookies and all(c["secure"] for c in cookies), cookies


def test_nothing_runs_as_the_superuser_and_storage_jobs_run_as_the_owner(stack: Stack) -> None:
    out = stack.ioc("maintain", *SERVICES["maintain"]["command"], "--once")
    assert "error" not in out.lower(), out
    with psycopg.connect(stack.pg.url) as conn:
        owners = conn.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname IN ('public', 'ioc_auth')"
        ).fetchall()
        users = conn.execute(
            "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = 'ioc'"
        ).fetchall()
    assert owners == [("ioc_owner",)]
    assert {u for (u,) in users} <= {"ioc_ingest", "ioc_app", "postgres"}  # postgres: this test


def test_backup_run_and_verify_restore_base_backup_and_archived_wal(stack: Stack) -> None:
    loop = " ".join(SERVICES["backup"]["command"])
    assert "ioc backup run && ioc backup verify" in loop  # what the compose service runs
    out = stack.ioc("backup", "backup", "run")
    assert re.match(r"base backup \d{8}T\d{6}Z; 0 old removed; WAL kept from [0-9A-F]{24}", out)
    # A reading committed after the base backup reaches the restore only through the WAL
    # archive (archive_timeout forces the segment out; here pg_switch_wal does it at once).
    _publish_fps(stack, 7.5)
    with psycopg.connect(stack.pg.url, autocommit=True) as conn:
        wait_until(
            lambda: conn.execute(
                "SELECT 1 FROM telemetry WHERE device_id = %s AND value = 7.5", (DEVICE,)
            ).fetchone(),
            20,
            message="the post-backup reading committed",
        )
        segment = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]
        wait_until(
            lambda: (stack.backup_dir / "wal" / segment).exists(), 30, message="WAL archived"
        )
        last = conn.execute("SELECT max(time) FROM telemetry_points").fetchone()[0]
    verified = stack.ioc("backup", "backup", "verify")
    assert verified.startswith("backup ") and verified.rstrip().endswith("OK"), verified
    assert f"last reading {last.isoformat()}; 0s behind the primary" in verified, verified
    assert re.search(r"devices [1-9]\d*, telemetry_points [1-9]", verified), verified


def test_dead_mans_switch_pings_and_the_receiver_notices_the_engine_stop(
    stack: Stack, receiver: Receiver
) -> None:
    wait_until(lambda: receiver.signals().count("ok") >= 3, 30, message="three heartbeats")
    assert receiver.signals()[0] == "start"
    assert not receiver.down()
    stack.stop_service("alerts-1")  # SIGTERM, waits for the process to exit
    stopped = time.monotonic()
    count = len(receiver.pings)
    wait_until(receiver.down, 10, message="the receiver saw the heartbeats stop")
    assert len(receiver.pings) == count  # nothing after the engine exited
    assert receiver.pings[-1][0] <= stopped
