"""Notifier figures on a throwaway database and a loopback webhook.

Prints one figure per line and a JSON summary: tick time with many firing alerts, outbox
delivery throughput, and latency from an alert's ``fired_at`` to the webhook receiving it when
the engine calls ``tick``/``deliver`` every ``--period`` seconds (default settings:
``group_wait`` 2 s). Usage::

    python bench/notify_bench.py --server postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool
from throwaway import throwaway_database

from alerts.notify.channels.smtp_settings import SmtpSettings
from alerts.notify.service import build_notifier
from alerts.notify.settings import NotifySettings, NotifySetup
from alerts.telegram.settings import TelegramSettings
from alerts.zalo.settings import ZaloSettings
from devices.database import prepare_database

INSERT = """
INSERT INTO alerts (fingerprint, rule, kind, severity, state, commune_code, device_type, labels,
    summary, started_at, fired_at)
VALUES (%(fp)s, 'device_offline', 'absence', 'critical', 'firing', %(commune)s, 'camera',
    %(labels)s, 'Thiết bị mất kết nối', %(t)s, %(t)s)
RETURNING id
"""


class Sink:
    """Loopback webhook recording arrival times."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.arrivals.append(time.time())
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def notify_setup(routes: Path) -> NotifySetup:
    """Notification settings with ``routes`` as IOC_ALERTS_CONFIG, nothing from .env."""
    return NotifySetup(
        NotifySettings(_env_file=None, alerts_config=routes),  # type: ignore[call-arg]
        SmtpSettings(_env_file=None),  # type: ignore[call-arg]
        TelegramSettings(_env_file=None),  # type: ignore[call-arg]
        ZaloSettings(_env_file=None),  # type: ignore[call-arg]
    )


def fire(conn: psycopg.Connection, commune: str) -> int:
    labels = {"commune": commune, "severity": "critical", "type": "camera"}
    row = conn.execute(
        INSERT,
        {
            "fp": uuid.uuid4().hex,
            "commune": commune,
            "labels": Jsonb(labels),
            "t": datetime.now(UTC),
        },
    ).fetchone()
    assert row is not None
    return int(row[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--alerts", type=int, default=2000, help="firing alerts for tick timing")
    parser.add_argument("--communes", type=int, default=100)
    parser.add_argument("--period", type=float, default=1.0, help="engine evaluation interval")
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()

    database = ExitStack()
    url = database.enter_context(throwaway_database(args.server, "notify"))
    sink = Sink()
    results: dict[str, float] = {}
    try:
        prepare_database(url, back_days=2, ahead_days=2, create=False)
        cfg = Path(tempfile.mkdtemp()) / "routes.yaml"
        cfg.write_text(
            yaml.safe_dump(
                {
                    "receivers": [{"name": "hook", "webhook": {"url": sink.url}}],
                    "default_receiver": "hook",
                }
            )
        )
        with (
            ConnectionPool(url, min_size=1, max_size=4) as pool,
            psycopg.connect(url, autocommit=True) as conn,
        ):
            notifier = build_notifier(pool, notify_setup(cfg))
            # Latency: fired_at -> webhook, ticking every --period seconds like the engine.
            latencies = []
            for _ in range(args.samples):
                conn.execute("UPDATE alerts SET state = 'resolved', resolved_at = now()")
                fired = time.time()
                fire(conn, "21025")
                seen = len(sink.arrivals)
                while len(sink.arrivals) == seen:
                    notifier.tick(datetime.now(UTC))
                    notifier.deliver(datetime.now(UTC))
                    time.sleep(args.period)
                latencies.append(sink.arrivals[seen] - fired)
                # Let the resolution go out so the next sample starts from an idle group.
                conn.execute("UPDATE alerts SET state = 'resolved', resolved_at = now()")
                conn.execute("UPDATE notify_groups SET alert_ids = '{}'")
            results["latency_fired_to_webhook_p50_s"] = statistics.median(latencies)
            results["latency_fired_to_webhook_max_s"] = max(latencies)
            # Tick cost with a storm of firing alerts over many communes.
            for i in range(args.alerts):
                fire(conn, f"{21000 + i % args.communes:05d}")
            t0 = time.perf_counter()
            notifier.tick(datetime.now(UTC).replace(year=2100))
            results[f"tick_s_with_{args.alerts}_alerts"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            notifier.tick(datetime.now(UTC).replace(year=2100))
            results["idle_tick_s"] = time.perf_counter() - t0
            pending = conn.execute(
                "SELECT count(*) FROM notifications WHERE state = 'pending'"
            ).fetchone()
            n = int(pending[0]) if pending else 0
            t0 = time.perf_counter()
            sent = 0
            while sent < n:
                sent += notifier.deliver(datetime.now(UTC).replace(year=2100))
            elapsed = time.perf_counter() - t0
            results["deliver_messages"] = n
            results["deliver_per_s"] = n / elapsed if elapsed else 0.0
            notifier.close()
    finally:
        sink.server.shutdown()
        database.close()
    for key, value in results.items():
        print(f"{key}: {value:.3f}")
    print(json.dumps({k: round(v, 4) for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
