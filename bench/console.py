"""Console and Telegram figures: incidents page server time, and button press to acknowledged.

1. A throwaway database with 10,000 devices (100 communes x 100), 1,000 open alerts (20
   uplinks down, each the root cause of 40 suppressed children, plus 180 other alerts) and
   20,000 resolved ones; the API with its console served by uvicorn on loopback; p50/p95 of
   the incidents page (logged in as a global admin and as a one-commune technician), and its
   size. Target: p95 < 300 ms.
2. The Telegram bot receiver long-polling a fake Bot API on loopback (tests/alerts/telegram):
   time from a button press to the alert acknowledged in the database. Target: < 2 s.

Prints one figure per line, then a JSON summary::

    python bench/console.py --server postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn
from psycopg_pool import ConnectionPool

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from alerts.chatops.signed import encode  # noqa: E402
from alerts.notify.templates import local_zone  # noqa: E402
from alerts.telegram.botapi import BotApi  # noqa: E402
from alerts.telegram.callback import key_for  # noqa: E402
from alerts.telegram.handler import BotHandler  # noqa: E402
from alerts.telegram.receiver import TelegramReceiver  # noqa: E402
from api import security  # noqa: E402
from api.app import create_app  # noqa: E402
from api.console.settings import ConsoleSettings  # noqa: E402
from api.passwords import set_password  # noqa: E402
from api.settings import ApiSettings, ApiSetup  # noqa: E402
from bench.throwaway import throwaway_database  # noqa: E402
from devices.store import sync_catalogue  # noqa: E402
from ioc import migrate  # noqa: E402
from ioc.linkcode import code_digest  # noqa: E402
from ioc.ports import free_port  # noqa: E402
from ioc.settings import Settings  # noqa: E402
from storage.jobs import resolve  # noqa: E402
from storage.settings import (  # noqa: E402
    AvailabilitySettings,
    ReportSettings,
    RetentionSettings,
    RollupSettings,
    StorageSetup,
)
from tests.alerts.telegram.fakebot import FakeBotApi  # noqa: E402

PASSWORD = "bench-password-123"
TOKEN = "4242:bench-token"
SEED = """
INSERT INTO communes (code, name, province)
SELECT lpad((30000 + c)::text, 5, '0'), 'Xã Bench ' || c, 'Tỉnh Bench' FROM generate_series(1, 100) c;
INSERT INTO sites (id, commune_code, name, lat, lon)
SELECT 's' || c || '-' || s, lpad((30000 + c)::text, 5, '0'), 'Thôn ' || s,
       15 + c * 0.01, 108 + s * 0.01
FROM generate_series(1, 100) c, generate_series(1, 5) s;
INSERT INTO devices (id, type, commune_code, site_id, parent_id, name, interval_s)
SELECT 'up-' || c, 'link', lpad((30000 + c)::text, 5, '0'), 's' || c || '-1', NULL,
       'Cáp quang ' || c, 60
FROM generate_series(1, 100) c;
INSERT INTO devices (id, type, commune_code, site_id, parent_id, name, interval_s)
SELECT 'd-' || c || '-' || i, CASE WHEN i % 3 = 0 THEN 'speaker' ELSE 'camera' END,
       lpad((30000 + c)::text, 5, '0'), 's' || c || '-' || (1 + i % 5), 'up-' || c,
       'Thiết bị ' || c || '-' || i, 60
FROM generate_series(1, 100) c, generate_series(1, 99) i;
INSERT INTO device_reachability (device_id, state, since)
SELECT id, 'online', now() - interval '1 day' FROM devices;
"""
ALERT = """
INSERT INTO alerts (fingerprint, rule, kind, severity, state, device_id, commune_code, site_id,
                    device_type, summary, summary_en, started_at, fired_at, resolved_at,
                    suppressed_by, annotations, labels)
SELECT %(prefix)s || g, %(rule)s, 'absence', %(severity)s, %(state)s, d.id, d.commune_code,
       d.site_id, d.type, 'Thiết bị mất kết nối', 'Device offline',
       now() - make_interval(mins => g), now() - make_interval(mins => g),
       CASE WHEN %(state)s = 'resolved' THEN now() - make_interval(mins => g / 2) END,
       %(root)s, %(annotations)s, jsonb_build_object('device', d.id)
FROM generate_series(1, %(n)s) g
JOIN devices d ON d.id = CASE WHEN %(device)s::text IS NOT NULL THEN %(device)s
                         ELSE 'd-' || (1 + g %% 100) || '-' || (1 + g %% 99) END
"""


def _seed(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        sync_catalogue(conn)
        conn.execute(SEED)
        roots = []
        for c in range(1, 21):
            row = conn.execute(
                ALERT + " RETURNING id",
                {
                    "prefix": f"root-{c}-", "rule": "device_absent", "severity": "critical",
                    "state": "firing", "root": None, "n": 1, "device": f"up-{c}",
                    "annotations": json.dumps({"impact": {"camera": 26, "speaker": 14}}),
                },
            ).fetchone()  # fmt: skip
            assert row is not None
            roots.append(row[0])
            conn.execute(
                """INSERT INTO alerts (fingerprint, rule, kind, severity, state, device_id,
                       commune_code, site_id, device_type, summary, started_at, fired_at,
                       suppressed_by)
                   SELECT 'child-' || d.id, 'device_absent', 'absence', 'critical', 'firing',
                          d.id, d.commune_code, d.site_id, d.type, 'Không truy cập được',
                          now() - interval '5 minutes', now() - interval '5 minutes', %s
                   FROM devices d WHERE d.parent_id = %s ORDER BY d.id LIMIT 40""",
                (row[0], f"up-{c}"),
            )
        base = {"root": None, "device": None, "annotations": "{}"}
        conn.execute(ALERT, {**base, "prefix": "other-", "rule": "fps_low",
                             "severity": "warning", "state": "firing", "n": 180})  # fmt: skip
        conn.execute(ALERT, {**base, "prefix": "old-", "rule": "fps_low",
                             "severity": "warning", "state": "resolved", "n": 20000})  # fmt: skip
        security.create_user(conn, "admin", "admin", [], 30)
        security.create_user(conn, "tech", "technician", ["30001"], 30)
        set_password(conn, "admin", PASSWORD)
        set_password(conn, "tech", PASSWORD)
        conn.execute("ANALYZE")
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM devices), "
            "(SELECT count(*) FROM alerts WHERE state <> 'resolved')"
        ).fetchone()
    assert counts is not None
    return {"devices": counts[0], "open_alerts": counts[1], "roots": roots}


def _serve(url: str) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    storage = StorageSetup(
        RetentionSettings(), RollupSettings(), AvailabilitySettings(), ReportSettings()
    )
    settings = ApiSetup(
        Settings(database_url=url, db_pool_size=4),
        ApiSettings(),
        ConsoleSettings(cookie_secure=False),
    )
    config = uvicorn.Config(
        create_app(settings, resolve(settings.core, storage)),
        host="127.0.0.1",
        port=port,
        log_config=None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def _login(base: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    form = client.get("/console/login").text
    token = re.search(r'name="csrf" value="([^"]*)"', form)
    assert token
    r = client.post(
        "/console/login",
        data={"username": name, "password": PASSWORD, "csrf": token.group(1), "next": "/"},
    )
    assert r.status_code == 303, r.text
    return client


def _time_page(client: httpx.Client, path: str, n: int) -> dict[str, float]:
    client.get(path)  # warm up
    times = []
    size = 0
    for _ in range(n):
        started = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200, r.status_code
        size = len(r.content)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
        "bytes": size,
    }


def _telegram(url: str, roots: list[int], trials: int) -> dict[str, float]:
    with (
        FakeBotApi(TOKEN) as bot,
        ConnectionPool(url, min_size=1, max_size=4, open=True) as pool,
    ):
        with pool.connection() as conn:
            conn.execute(
                "INSERT INTO ioc_auth.telegram_link_codes (code_hash, user_id, expires_at) "
                "SELECT %s, id, now() + interval '1 hour' FROM ioc_auth.users WHERE name = 'admin'",
                (code_digest("BENCH123"),),
            )
        api = BotApi(bot.url, TOKEN)
        handler = BotHandler(pool, api, key_for(TOKEN), local_zone("Asia/Ho_Chi_Minh"))
        receiver = TelegramReceiver(pool, api, handler, lambda: True, poll_timeout_s=25)
        receiver.start()
        bot.say(1, "/start BENCH123")
        _wait(lambda: bot.sent_to(1), 10)
        latencies = []
        with psycopg.connect(url, autocommit=True) as conn:
            for alert in roots[:trials]:
                sent = api.call("sendMessage", {"chat_id": 1, "text": f"#{alert}"})
                started = time.perf_counter()
                bot.press(1, sent["message_id"], encode(key_for(TOKEN), "ack", alert))

                def acked(alert: int = alert) -> bool:
                    row = conn.execute(
                        "SELECT acknowledged_at IS NOT NULL FROM alerts WHERE id = %s", (alert,)
                    ).fetchone()
                    return bool(row and row[0])

                _wait(acked, 10, interval=0.005)
                latencies.append((time.perf_counter() - started) * 1000)
        receiver.stop()
    latencies.sort()
    return {
        "press_to_ack_p50_ms": round(statistics.median(latencies), 1),
        "press_to_ack_max_ms": round(latencies[-1], 1),
        "trials": len(latencies),
    }


def _wait(predicate: Any, timeout: float, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            if not value:
                raise RuntimeError("timed out")
            return value
        time.sleep(interval)


def main() -> None:
    """Run both benches and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--presses", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="Keep the bench database.")
    args = parser.parse_args()
    summary: dict[str, Any] = {}
    with throwaway_database(args.server, "console", keep=args.keep) as url:
        migrate.apply(url)
        started = time.perf_counter()
        seeded = _seed(url)
        summary["seed_s"] = round(time.perf_counter() - started, 1)
        summary.update({k: v for k, v in seeded.items() if k != "roots"})
        server, thread, base = _serve(url)
        try:
            for who in ("admin", "tech"):
                client = _login(base, who)
                figures = _time_page(client, "/console/", args.requests)
                client.close()
                for key, value in figures.items():
                    summary[f"incidents_{who}_{key}"] = value
            client = _login(base, "admin")
            alert = seeded["roots"][0]
            if True:
                summary.update(
                    {
                        f"alert_page_{k}": v
                        for k, v in _time_page(client, f"/console/alerts/{alert}", 30).items()
                    }
                )
        finally:
            server.should_exit = True
            thread.join(10)
        summary.update(_telegram(url, seeded["roots"], args.presses))
    for key, value in summary.items():
        print(f"{key}: {value}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
