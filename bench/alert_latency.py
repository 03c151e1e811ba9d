"""Latency from a device's last will to its alert firing and to the webhook receiving it.

The whole chain runs for real on loopback: a throwaway PostgreSQL database, a mosquitto on a
free port, ``IngestService`` and ``AlertEngine`` (default settings: 1 s evaluation; notifier
with ``group_wait`` 2 s) in this process, a webhook receiver in a thread, and one paho client
per device with a retained ``offline`` last will. Each trial cuts one device's TCP connection
(no DISCONNECT, so the broker publishes the will). Prints one figure per line and a JSON
summary::

    python bench/alert_latency.py --server postgresql://postgres@127.0.0.1:5432/postgres --trials 10
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from psycopg_pool import ConnectionPool
from throwaway import throwaway_database

from alerts.engine import AlertEngine
from alerts.notify.channels.smtp_settings import SmtpSettings
from alerts.notify.settings import NotifySettings, NotifySetup
from alerts.settings import AlertSettings
from alerts.telegram.settings import TelegramSettings
from alerts.zalo.settings import ZaloSettings
from devices.database import prepare_database
from ioc.contract import device_topic
from ioc.ports import free_port, wait_listening
from ioc.settings import Settings

COMMUNE = "21025"
REGISTRY_SQL = [
    "INSERT INTO communes (code, name) VALUES ('21025', 'Xã Tịnh Sơn')",
    "INSERT INTO sites (id, commune_code, name) VALUES ('s1', '21025', 'UBND')",
    """INSERT INTO devices (id, type, commune_code, site_id, name, interval_s)
       SELECT 'cam-' || i, 'camera', '21025', 's1', 'Camera ' || i, 60
       FROM generate_series(1, %(n)s) i""",
]


class Hook(ThreadingHTTPServer):
    """Loopback webhook: remembers when each device id first appeared in a body."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self.devices: list[str] = []
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        now = time.time()
        server: Hook = self.server  # type: ignore[assignment]
        for device in server.devices:
            if f'"{device}"' in body:
                server.seen.setdefault(device, now)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def start_broker(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, 10.0)
    except TimeoutError:
        proc.kill()
        raise RuntimeError("mosquitto did not start") from None
    return proc, port


def device_client(device: str, port: int) -> mqtt.Client:
    topic = device_topic(COMMUNE, device, "status")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{device}")
    client.will_set(topic, "offline", qos=1, retain=True)
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    client.publish(topic, "online", qos=1, retain=True).wait_for_publish(5)
    return client


def cut(client: mqtt.Client) -> None:
    """Drop the TCP connection without DISCONNECT: the broker publishes the last will."""
    client.loop_stop()
    sock = client.socket()
    if sock is not None:
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()


def fired_at(pool: ConnectionPool, device: str) -> datetime | None:
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT fired_at FROM alerts WHERE device_id = %s AND rule = 'device_offline'"
            " AND state = 'firing'",
            (device,),
        ).fetchone()
    return row[0] if row else None


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--spacing", type=float, default=1.3, help="Seconds between cuts.")
    args = parser.parse_args()
    from ingest.service import IngestService
    from ingest.settings import IngestSettings

    workdir = Path(tempfile.mkdtemp(prefix="ioc-alert-latency-"))
    database = ExitStack()
    url = database.enter_context(throwaway_database(args.server, "latency"))
    broker, port = start_broker(workdir)
    hook = Hook()
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    devices = [f"cam-{i}" for i in range(1, args.trials + 1)]
    hook.devices = devices
    config = workdir / "notify.yaml"
    config.write_text(
        "defaults: {group_by: [device]}\n"  # one group per device: each trial is its own message
        "receivers:\n"
        f"  - {{name: hook, webhook: {{url: 'http://127.0.0.1:{hook.server_port}/hook'}}}}\n"
        "default_receiver: hook\n"
    )
    clients: list[mqtt.Client] = []
    engine: AlertEngine | None = None
    service = None
    pool = None
    try:
        prepare_database(url, back_days=2, ahead_days=2, create=False)
        with psycopg.connect(url) as conn:
            for statement in REGISTRY_SQL:
                conn.execute(statement, {"n": len(devices)})
        core = Settings(database_url=url, mqtt_url=f"mqtt://127.0.0.1:{port}")
        service = IngestService(core, IngestSettings(instance=f"bench-{uuid.uuid4().hex[:6]}"))
        service.start()
        clients = [device_client(d, port) for d in devices]
        pool = ConnectionPool(url, min_size=1, max_size=4, open=True)
        notify = NotifySetup(
            NotifySettings(alerts_config=config), SmtpSettings(), TelegramSettings(), ZaloSettings()
        )
        engine = AlertEngine(AlertSettings(), pool, notify=notify)
        engine.start()
        deadline = time.monotonic() + 30
        while engine.last_result is None and time.monotonic() < deadline:
            time.sleep(0.1)
        cuts: dict[str, float] = {}
        for device, client in zip(devices, clients, strict=True):
            cuts[device] = time.time()
            cut(client)
            time.sleep(args.spacing)
        deadline = time.monotonic() + 30
        while len(hook.seen) < len(devices) and time.monotonic() < deadline:
            time.sleep(0.1)
        to_fire = []
        for device in devices:
            fired = fired_at(pool, device)
            if fired is not None:
                to_fire.append(fired.timestamp() - cuts[device])
        to_hook = [hook.seen[d] - cuts[d] for d in devices if d in hook.seen]
    finally:
        if engine is not None:
            engine.stop()
        if pool is not None:
            pool.close()
        if service is not None:
            service.stop()
        broker.kill()
        hook.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
        database.close()
    figures: dict[str, float] = {
        "trials": len(devices),
        "fired": len(to_fire),
        "webhooks": len(to_hook),
    }
    for label, values in (("will_to_firing", to_fire), ("will_to_webhook", to_hook)):
        if values:
            figures[f"{label}_p50_s"] = statistics.median(values)
            figures[f"{label}_p95_s"] = pct(values, 0.95)
            figures[f"{label}_max_s"] = max(values)
    for key, value in figures.items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
    print(json.dumps({"benchmark": "alert_latency", **figures}))
    return 0 if len(to_hook) == len(devices) else 1


if __name__ == "__main__":
    raise SystemExit(main())
