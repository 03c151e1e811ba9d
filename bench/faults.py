"""The reliability suite's fault scenarios at a chosen size, as a table.

Each scenario runs `ioc ingest` as a subprocess against a fresh Mosquitto on a free port and a
PostgreSQL cluster of its own (initdb on a free port; the machine's 5432/1883 are never used),
publishes a QoS 1 stream whose every PUBACK is recorded, injects the fault and compares the
acknowledged messages with the database. Prints one line per row and a JSON summary::

    python bench/faults.py --messages 20000 --rate 1000 --pg-outage 60
    python bench/faults.py --only sigkill,pg_crash --messages 5000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.registry import parse_yaml
from devices.store import import_registry
from tests.plugins.pgcluster import PgCluster
from tests.reliability import scenarios
from tests.reliability.harness import REGISTRY
from tests.reliability.rig import Row, Sizes

COLUMNS = (
    "fault",
    "sent",
    "acked",
    "stored",
    "lost",
    "duplicated",
    "recovery_s",
    "seq_gaps",
    "quarantine_redeliveries",
)


def main() -> None:
    """Run the chosen scenarios and print the table."""
    names = [*scenarios.SCENARIOS, "backlog"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000, help="messages per scenario")
    parser.add_argument("--rate", type=float, default=1000.0, help="steady publish rate, msg/s")
    parser.add_argument("--pg-outage", type=float, default=60.0, help="PostgreSQL down, seconds")
    parser.add_argument("--stall", type=float, default=12.0, help="broker SIGSTOP, seconds")
    parser.add_argument("--queue", type=int, default=2000, help="backlog scenario's queue limit")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {names}")
    args = parser.parse_args()
    chosen = [n for n in args.only.split(",") if n] or names
    sizes = Sizes(
        messages=args.messages,
        rate=args.rate,
        pg_outage_s=args.pg_outage,
        stall_s=args.stall,
        backlog_queue=args.queue,
        timeout_s=max(180.0, 4 * args.messages / args.rate),
    )
    pg = PgCluster().init()
    with psycopg.connect(pg.url) as conn:
        import_registry(conn, parse_yaml(REGISTRY, "reliability.yaml"), "reliability.yaml")
    rows: list[Row] = []
    extra: dict[str, object] = {}
    started = time.monotonic()
    print("  ".join(f"{c:>10}" if c != "fault" else f"{c:<42}" for c in COLUMNS[:-1]), end="")
    print("  q_redeliv", flush=True)
    try:
        for name in chosen:
            workdir = Path(tempfile.mkdtemp(prefix=f"ioc-faults-{name}-"))
            if name == "backlog":
                row, detected = scenarios.backlog_over_queue(pg, sizes, workdir)
                extra["backlog_detection"] = detected
            else:
                row = scenarios.SCENARIOS[name](pg, sizes, workdir)
            rows.append(row)
            print(_line(row), flush=True)
    finally:
        pg.close()
    summary = {
        "sizes": sizes.__dict__,
        "rows": [r.as_dict() for r in rows],
        "total_lost": sum(r.lost for r in rows if "backlog" not in r.fault),
        "total_duplicated": sum(r.duplicated for r in rows),
        "elapsed_s": round(time.monotonic() - started, 1),
        **extra,
    }
    print(json.dumps(summary, default=str))


def _line(row: Row) -> str:
    values = row.as_dict()
    cells = []
    for column in COLUMNS:
        value = values[column]
        if column == "fault":
            cells.append(f"{value:<42}")
        else:
            cells.append(f"{'-' if value is None else value:>10}")
    return "  ".join(cells) + (f"  # {row.note}" if row.note else "")


if __name__ == "__main__":
    main()
