"""Health, readiness (database, migrations, broker), metrics, offline docs, OpenAPI."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from ioc.ports import free_port
from tests.util import wait_until


def test_readyz_ok_and_failing(serve, db):
    client = serve()
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["detail"] == "ready"
    assert {k: v["ok"] for k, v in r.json()["checks"].items()} == {
        "database": True,
        "migrations": True,
        "broker": True,
    }
    dead = serve(mqtt_url=f"mqtt://127.0.0.1:{free_port()}", api={"readyz_timeout_s": 0.5})
    r = dead.get("/readyz")
    assert r.status_code == 503
    assert r.json()["detail"] == "not ready: broker"
    assert r.json()["checks"]["broker"]["ok"] is False
    # A migration missing from the database makes the app not ready.
    db.execute("DELETE FROM _yoyo_migration WHERE migration_id = '0300_api_auth'")
    r = serve().get("/readyz")
    assert r.status_code == 503 and "migrations" in r.json()["detail"]
    assert "ioc migrate" in r.json()["checks"]["migrations"]["detail"]


def test_metrics_and_healthz(client, world, as_user):
    assert client.get("/healthz").json() == {"status": "ok"}
    client.get("/api/v1/devices/a-cam-1", headers=as_user("operator"))
    # Counted once the response is sent, so possibly just after the client has it.
    line = 'ioc_api_requests_total{handler="get_device",method="GET",status="200"} 1.0'

    def scraped() -> str | None:
        text = client.get("/metrics").text
        return text if line in text else None

    text = wait_until(scraped, 5, message="the request to be counted")
    assert "ioc_api_request_seconds_bucket" in text


def test_docs_are_served_offline(client):
    html = client.get("/docs").text
    assert "/static/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    assert client.get("/static/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/swagger-ui.css").status_code == 200
    redoc = client.get("/redoc").text
    assert "/static/redoc.standalone.js" in redoc and "fonts.googleapis" not in redoc
    assert client.get("/static/redoc.standalone.js").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/v1/devices/{device_id}/telemetry" in spec["paths"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_ioc_api_command_serves(db_url, mqtt_url):
    port = free_port()
    env = {**os.environ, "IOC_DATABASE_URL": db_url, "IOC_MQTT_URL": mqtt_url}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from ioc.cli import main; main()", "api", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                return False

        wait_until(healthy, 30, message="`ioc api` to answer /healthz")
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)
