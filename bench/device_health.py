"""Cost of the ``device_health`` view (health beside reachability) on a province-sized fleet.

Builds N devices with every catalogue metric in ``device_latest_points`` on a throwaway
database (the alert bench's fleet), then times: one device (the device page and API), one
commune's devices with health (the console's commune page), and the whole fleet's failed count
(Grafana's overview counters). Prints one figure per line::

    python bench/device_health.py --server postgresql://postgres@127.0.0.1:5432/postgres --devices 10000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]  # the packages first (bench/storage.py is a script)
from alert_eval import LATEST_SQL, REGISTRY_SQL, STATUS_SQL, normal_values  # noqa: E402
from throwaway import throwaway_database  # noqa: E402

from devices.database import prepare_database  # noqa: E402
from grafana.boards.overview import HEALTH_JOIN  # noqa: E402

QUERIES = {
    "one device": "SELECT * FROM device_health WHERE device_id = 'c7-d42'",
    "one commune (100 devices), as the API and console join it": (
        f"SELECT d.id, h.health, h.symptom FROM devices d {HEALTH_JOIN} "
        "WHERE d.commune_code = '10007'"
    ),
    "one commune, joined flat (not used)": (
        "SELECT d.id, h.health, h.symptom FROM devices d "
        "LEFT JOIN device_health h ON h.device_id = d.id WHERE d.commune_code = '10007'"
    ),
    "whole fleet failed count, as the Grafana overview joins it": (
        f"SELECT count(*) FROM devices d {HEALTH_JOIN} WHERE h.health = 'failed'"
    ),
}
REACHABLE = """
INSERT INTO device_reachability (device_id, state, since) SELECT id, 'online', now() FROM devices
"""


def _time(conn: psycopg.Connection, query: str, runs: int = 7) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        conn.execute(query).fetchall()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--devices", type=int, default=10000)
    args = parser.parse_args()
    communes = max(8, args.devices // 100)
    with throwaway_database(args.server, "health") as url:
        prepare_database(url, back_days=1, ahead_days=1, create=False)
        now = datetime.now(UTC)
        with psycopg.connect(url) as conn:
            for statement in filter(str.strip, REGISTRY_SQL.split(";")):
                conn.execute(statement, {"communes": communes})
            conn.execute(STATUS_SQL, {"t": now})
            conn.execute(REACHABLE)
            types, metrics, values = normal_values()
            conn.execute(
                LATEST_SQL, {"t": now, "types": types, "metrics": metrics, "values": values}
            )
            conn.commit()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            rows = conn.execute("SELECT count(*) FROM device_latest_points").fetchone()
            print(f"devices: {communes * 100}, latest values: {rows[0] if rows else 0}")
            for jit in ("on", "off"):  # past jit_above_cost, JIT compiling costs more than it saves
                conn.execute(sql.SQL("SET jit = {}").format(sql.Literal(jit)))
                for label, query in QUERIES.items():
                    print(f"jit {jit}: {label}: {_time(conn, query):.1f} ms (median of 7)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
