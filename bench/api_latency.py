"""API latency: p50/p95 of /overview and of a 30-day telemetry query for one device.

Builds (or reuses) a database holding ``--days`` of the demo commune's history with
``bench/seed_history.py``, runs the storage rollup and availability jobs once (as
``ioc maintain`` would), serves the API with uvicorn on loopback and times sequential
requests. Prints one figure per line, then a JSON summary. Usage::

    python bench/api_latency.py --db postgresql://postgres@localhost:5432/ioc_bench_api
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from api import security  # noqa: E402
from api.app import create_app  # noqa: E402
from api.console.settings import ConsoleSettings  # noqa: E402
from api.settings import ApiSettings, ApiSetup  # noqa: E402
from devices.database import prepare_database  # noqa: E402
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

COMMUNE = "21025"
DEVICE = "ts-cam-01"


def _load_seeder() -> Any:
    spec = importlib.util.spec_from_file_location("seed_history", REPO / "bench/seed_history.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["seed_history"] = module
    spec.loader.exec_module(module)
    return module


def prepare(url: str, days: float, reseed: bool) -> dict[str, float]:
    """Migrate, seed history when missing, refresh rollups and availability; return timings."""
    timings: dict[str, float] = {}
    prepare_database(url, back_days=int(days) + 2, ahead_days=3)
    with psycopg.connect(url) as conn:
        have = conn.execute(
            "SELECT count(*) FROM telemetry_points WHERE time < now() - make_interval(days => %s)",
            (int(days) - 1,),
        ).fetchone()
    if reseed or not have or not have[0]:
        started = time.perf_counter()
        with psycopg.connect(url) as conn:
            _load_seeder().seed(conn, days=days, replace=True)
        timings["seed_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    try:
        from storage.jobs import run_availability, run_rollups
        from storage.settings import (
            AvailabilitySettings,
            ReportSettings,
            RetentionSettings,
            RollupSettings,
            StorageSetup,
        )

        storage = StorageSetup(
            RetentionSettings(raw_days=int(days) + 5),
            RollupSettings(),
            AvailabilitySettings(),
            ReportSettings(),
        )
        run_rollups(url, storage)
        run_availability(url, storage)
        timings["maintain_s"] = round(time.perf_counter() - started, 1)
    except ImportError:
        timings["maintain_s"] = -1.0  # storage jobs not available: rollup views read raw data
    return timings


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50 / p95 / max in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def timed(client: httpx.Client, url: str, params: dict[str, Any], n: int) -> list[float]:
    """Sequential request latencies (after two warm-up requests)."""
    for _ in range(2):
        client.get(url, params=params).raise_for_status()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        r = client.get(url, params=params)
        samples.append(time.perf_counter() - started)
        r.raise_for_status()
    return samples


def main(argv: list[str] | None = None) -> int:
    """Command line: prepare the database, serve the API, time the two queries."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        default="postgresql://postgres@127.0.0.1:5432/ioc_bench_api",
        help="database to create or reuse (default ioc_bench_api on the local server)",
    )
    parser.add_argument("--days", type=float, default=30.0, help="days of history")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per query")
    parser.add_argument("--reseed", action="store_true", help="write the history again")
    args = parser.parse_args(argv)
    summary: dict[str, Any] = prepare(args.db, args.days, args.reseed)
    with psycopg.connect(args.db) as conn:
        points = conn.execute("SELECT count(*) FROM telemetry_points").fetchone()
        summary["telemetry_points"] = points[0] if points else 0
        conn.execute("DELETE FROM ioc_auth.users WHERE name = 'bench'")
        token, _ = security.create_user(conn, "bench", "operator", [], 1)
        conn.commit()
    storage = StorageSetup(
        RetentionSettings(), RollupSettings(), AvailabilitySettings(), ReportSettings()
    )
    settings = ApiSetup(
        Settings(database_url=args.db), ApiSettings(rate_limit="1000000/minute"), ConsoleSettings()
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, resolve(settings.core, storage)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit("the API did not start")
        time.sleep(0.05)
    now = datetime.now(UTC)
    queries = {
        "overview": ("/api/v1/overview", {"commune": COMMUNE}),
        "telemetry_30d": (
            f"/api/v1/devices/{DEVICE}/telemetry",
            {"metric": "fps", "from": (now - timedelta(days=30)).isoformat()},
        ),
        "telemetry_30d_3_metrics_step_1800": (
            f"/api/v1/devices/{DEVICE}/telemetry",
            {
                "metric": ["fps", "bitrate_kbps", "cpu_pct"],
                "from": (now - timedelta(days=30)).isoformat(),
                "step": 1800,
            },
        ),
    }
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as c:
            for name, (url, params) in queries.items():
                first = c.get(url, params=params).json()
                if "source" in first:
                    summary[f"{name}_source"] = first["source"]
                    summary[f"{name}_points"] = sum(len(s["points"]) for s in first["series"])
                for key, value in percentiles(timed(c, url, params, args.requests)).items():
                    summary[f"{name}_{key}"] = value
    finally:
        server.should_exit = True
        thread.join(10)
    for key, value in summary.items():
        print(f"{key}: {value}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
