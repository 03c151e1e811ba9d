"""How often the notification tick crosses module boundaries inside ``alerts.notify``.

Runs real ticks on a throwaway database (a firing flush, an escalation, a reminder, a
resolution and a brief "fired and resolved before any message" report) under
``sys.setprofile`` and counts the distinct cross-module hops of those ticks:

- a *stop* is a distinct (caller function -> callee function) pair whose two functions live
  in different ``alerts.notify`` modules (dataclass-generated methods count for the module
  that defines the class);
- a *return* is such a pair whose callee handed a value (not ``None``) back across.

Printed twice: between ``service``, ``store`` and ``planner`` only (the issue's wording), and
between every ``alerts.notify`` module (``model`` and ``config`` included, so moving a
dataclass from one module to another cannot hide a hop). ``--list`` prints the pairs.
Usage::

    python bench/notify_tick_bounces.py --server postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
import yaml
from notify_bench import notify_setup
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool
from throwaway import throwaway_database

from alerts.notify.service import build_notifier
from devices.database import prepare_database

T0 = datetime(2030, 1, 1, 7, 0, tzinfo=UTC)
PACKAGE = "alerts.notify"
CORE = {"alerts.notify.service", "alerts.notify.store", "alerts.notify.planner"}

INSERT = """
INSERT INTO alerts (fingerprint, rule, kind, severity, state, commune_code, device_type, labels,
    summary, started_at, fired_at)
VALUES (%(fp)s, 'device_offline', 'absence', 'critical', 'firing', '21025', 'camera',
    %(labels)s, 'Thiết bị mất kết nối', %(t)s, %(t)s)
RETURNING id
"""

RESOLVE = "UPDATE alerts SET state = 'resolved', resolved_at = %(t)s WHERE id = %(id)s"

ROUTES = {
    "receivers": [{"name": "duty", "console": {}}, {"name": "boss", "console": {}}],
    "routes": [
        {
            "receiver": "duty",
            "escalation": [{"after": "10m", "receiver": "boss"}],
        }
    ],
}


class Hops:
    """Cross-module call pairs seen while profiling."""

    def __init__(self) -> None:
        self.stops: set[tuple[str, str]] = set()
        self.returns: set[tuple[str, str]] = set()

    @staticmethod
    def _where(frame: FrameType | None) -> tuple[str, str] | None:
        if frame is None:
            return None
        module = str(frame.f_globals.get("__name__", ""))
        if not module.startswith(PACKAGE):
            return None
        return module, f"{module.removeprefix(PACKAGE + '.')}.{frame.f_code.co_qualname}"

    def profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event not in ("call", "return"):
            return
        callee, caller = self._where(frame), self._where(frame.f_back)
        if callee is None or caller is None or callee[0] == caller[0]:
            return
        pair = (caller[1], callee[1])
        if event == "call":
            self.stops.add(pair)
        elif arg is not None:
            self.returns.add(pair)

    def count(self, modules: set[str] | None) -> tuple[int, int]:
        def inside(pair: tuple[str, str]) -> bool:
            return modules is None or all(f"{PACKAGE}.{p.split('.')[0]}" in modules for p in pair)

        return sum(map(inside, self.stops)), sum(map(inside, self.returns))


def fire(conn: psycopg.Connection, device: str, t: datetime) -> int:
    labels = {"commune": "21025", "device": device, "severity": "critical", "type": "camera"}
    row = conn.execute(INSERT, {"fp": uuid.uuid4().hex, "labels": Jsonb(labels), "t": t})
    found = row.fetchone()
    assert found is not None
    return int(found[0])


def scenario(url: str, cfg: Path, hops: Hops) -> None:
    with (
        ConnectionPool(url, min_size=1, max_size=2) as pool,
        psycopg.connect(url, autocommit=True) as conn,
    ):
        notifier = build_notifier(pool, notify_setup(cfg))

        def tick(seconds: float) -> None:
            sys.setprofile(hops.profile)
            try:
                notifier.tick(T0 + timedelta(seconds=seconds))
            finally:
                sys.setprofile(None)

        first = fire(conn, "cam-1", T0)
        fire(conn, "cam-2", T0)
        tick(5)  # firing flush
        tick(11 * 60)  # escalation to boss
        tick(5 * 3600)  # reminder (repeat_interval 4 h)
        conn.execute(RESOLVE, {"id": first, "t": T0 + timedelta(hours=5, minutes=1)})
        brief = fire(conn, "cam-3", T0 + timedelta(hours=5, minutes=1))
        conn.execute(RESOLVE, {"id": brief, "t": T0 + timedelta(hours=5, minutes=2)})
        tick(6 * 3600)  # resolution and the brief report
        notifier.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--list", action="store_true", help="print every cross-module pair")
    args = parser.parse_args()
    hops = Hops()
    with throwaway_database(args.server, "bounces") as url:
        prepare_database(url, back_days=2, ahead_days=2, create=False)
        cfg = Path(tempfile.mkdtemp()) / "routes.yaml"
        cfg.write_text(yaml.safe_dump(ROUTES))
        scenario(url, cfg, hops)
    if args.list:
        for caller, callee in sorted(hops.stops):
            back = " (returns)" if (caller, callee) in hops.returns else ""
            print(f"  {caller} -> {callee}{back}")
    core, every = hops.count(CORE), hops.count(None)
    print(f"service/store/planner: {core[0]} stops, {core[1]} returns")
    print(f"all alerts.notify modules: {every[0]} stops, {every[1]} returns")
    print(json.dumps({"core": core, "all": every}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
