"""Zalo webhook: how fast a signed event is answered (Zalo wants 200 within 2 s), and how fast
the worker drains the queue, on a throwaway database. Prints one figure per line::

    python bench/zalo_webhook.py --server postgresql://postgres@127.0.0.1:5432/postgres --events 2000
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import psycopg
from psycopg_pool import ConnectionPool
from throwaway import throwaway_database

from alerts.chatops.signed import derive_key
from alerts.notify.templates import local_zone
from alerts.zalo.api import Urls, ZaloApi
from alerts.zalo.handler import EventHandler
from alerts.zalo.tokens import TokenStore
from alerts.zalo.webhook import ZaloWebhook, signature
from devices.database import prepare_database

APP, SECRET = "4100000000000000001", "bench-oa-secret"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    results: dict[str, float] = {}
    with throwaway_database(args.server, "zalo") as url:
        prepare_database(url, back_days=1, ahead_days=1, create=False)
        with ConnectionPool(url, min_size=2, max_size=args.clients + 4) as pool:
            dead = Urls("http://127.0.0.1:9", "http://127.0.0.1:9", "http://127.0.0.1:9")
            tokens = TokenStore(pool, ZaloApi(dead), APP, "x", None, timedelta(0))
            handler = EventHandler(derive_key(SECRET, "zalo-button"), local_zone("UTC"))
            hook = ZaloWebhook(pool, tokens, handler, APP, SECRET, "127.0.0.1:0", "/hooks/zalo",
                               300, 0.05)  # fmt: skip
            hook.start()
            target = f"http://127.0.0.1:{hook.port}/hooks/zalo"
            client = httpx.Client(timeout=10)

            def post(i: int) -> float:
                ts = str(int(time.time() * 1000))
                body = json.dumps({"app_id": APP, "event_name": "user_send_text", "timestamp": ts,
                                   "sender": {"id": str(7000 + i % 50)},
                                   "message": {"text": "xin chào", "msg_id": f"b{i}"}})  # fmt: skip
                mac = "mac=" + signature(APP, body, ts, SECRET)
                t0 = time.perf_counter()
                r = client.post(target, content=body, headers={"X-ZEvent-Signature": mac})
                assert r.status_code == 200, r.text
                return time.perf_counter() - t0

            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as ex:
                answers = sorted(ex.map(post, range(args.events)))
            posted = time.perf_counter() - t0
            with psycopg.connect(url, autocommit=True) as conn:
                while conn.execute(
                    "SELECT count(*) FROM ioc_auth.zalo_inbox WHERE processed_at IS NULL"
                ).fetchone() != (0,):
                    time.sleep(0.05)
            drained = time.perf_counter() - t0
            hook.stop()
            client.close()
        results["answer_p50_ms"] = statistics.median(answers) * 1000
        results["answer_p99_ms"] = answers[int(len(answers) * 0.99) - 1] * 1000
        results["answer_max_ms"] = answers[-1] * 1000
        results["accepted_per_s"] = args.events / posted
        results["handled_per_s"] = args.events / drained
    for key, value in results.items():
        print(f"{key}: {value:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
