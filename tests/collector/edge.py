"""A collector in this process (no broker: its outbox is read directly) with its receiver served
on loopback, for the trust-boundary tests; clients may send from any 127.x.y.z address."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from collector.inventory import parse_inventory
from collector.secrets import SecretStore
from collector.service import Collector, identify
from collector.settings import CollectorSettings
from ioc.mqttclient import MqttTarget
from tests.util import wait_until

HOOK_TOKEN = "hook-token-5b6n"
PUSH_SECRET = "push-secret-8m9p"


def inventory(cameras: int = 3) -> str:
    """col-1 watching an NVR (127.0.2.1) and cameras 127.0.2.10+ (hikvision), and a hook."""
    lines = [
        "devices:",
        '  - {id: col-1, type: collector, commune: "21025", name: C}',
        '  - {id: nvr-1, type: nvr, commune: "21025", name: N, address: 127.0.2.1,',
        "     collector: col-1, checks: {hikvision: {port: 9, password_env: CAM_PASS}}}",
        '  - {id: spk-1, type: speaker, commune: "21025", name: S, address: 127.0.0.1,',
        "     collector: col-1, checks: {http_json: {webhook_id: h1, webhook_token_env: HOOK,",
        "                                metrics: {volume: {path: v}}}}}",
    ]
    for i in range(cameras):
        lines += [
            f'  - {{id: cam-{i}, type: camera, commune: "21025", name: K, address: 127.0.2.{10 + i},',
            "     collector: col-1, checks: {hikvision: {port: 9, password_env: CAM_PASS}}}",
        ]
    return "\n".join(lines) + "\n"


class EdgeRig:
    """The collector object and the port of its receiver (served in a thread's loop)."""

    def __init__(self, collector: Collector, port: int, loop: asyncio.AbstractEventLoop) -> None:
        self.collector = collector
        self.port = port
        self.loop = loop

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def events(self, etype: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        """(device, event fields) stored in the outbox, oldest first."""
        db = self.collector.outbox
        rows = db.db.execute(
            "SELECT device_id, body FROM outbox WHERE channel = 'event' ORDER BY id"
        ).fetchall()
        out = [(d, json.loads(b)) for d, b in rows]
        return [(d, e) for d, e in out if etype is None or e.get("type") == etype]


@contextmanager
def edge(tmp: Path, text: str | None = None, **settings: Any) -> Iterator[EdgeRig]:
    """Run the receiver of a collector built from ``text`` until the block ends."""
    values: dict[str, Any] = {
        "state_dir": tmp,
        "webhook_port": 0,
        "webhook_host": "127.0.0.1",
        "push_secret_env": "PUSH",
        **settings,
    }
    csettings = CollectorSettings(**values)
    inv = parse_inventory(text or inventory())
    secrets = SecretStore({"CAM_PASS": "cam-pass-2v3c", "HOOK": HOOK_TOKEN, "PUSH": PUSH_SECRET})
    collector = Collector(
        inv, identify(inv, "col-1"), csettings, MqttTarget("mqtt://127.0.0.1:9"), secrets
    )
    loop = asyncio.new_event_loop()
    ready: asyncio.Future[int] = loop.create_future()
    task: list[asyncio.Task[None]] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        task.append(loop.create_task(collector.serve_pushes(ready)))
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    port = wait_until(lambda: ready.done() and ready.result(), 10, 0.02, "receiver listening")
    try:
        yield EdgeRig(collector, int(port), loop)
    finally:

        async def shutdown() -> None:
            task[0].cancel()
            await asyncio.gather(task[0], return_exceptions=True)
            await asyncio.sleep(0.05)  # connections being answered finish

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        collector.outbox.close()
