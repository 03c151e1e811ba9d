"""Seed N days of realistic history for a registry, fast (binary COPY built with numpy).

Writes telemetry at the real report rates of each device (its ``interval_s``: cameras and links
60 s, loudspeakers 30 s, NVRs 300 s) with every catalogue metric of its type, outages
(per-device ~1 %/day with log-normal repair time, commune power cuts, one forced hamlet uplink
outage, chronically offline cameras), the matching status and reachability changes, broadcast
and reboot events, and the latest state tables. Usage::

    python bench/seed_history.py --db postgresql://postgres@localhost/ioc --days 30
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time as clock
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql

from devices.catalogue import TYPES, Metric
from devices.registry import load_file
from devices.store import import_registry, sync_catalogue

log = logging.getLogger("seed_history")

DEFAULT_REGISTRY = Path(__file__).resolve().parent.parent / "devices/data/demo_commune.yaml"
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
LOCAL_OFFSET_S = 7 * 3600  # Vietnam, UTC+7
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
TUPLE = np.dtype(
    [
        ("n", ">i2"),
        ("l1", ">i4"),
        ("t", ">i8"),
        ("l2", ">i4"),
        ("v", ">f8"),
        ("l3", ">i4"),
        ("k", ">i4"),
        ("l4", ">i4"),
        ("m", ">i2"),
    ]
)
COPY_POINTS = (
    "COPY telemetry_points (time, value, device_key, metric_id) FROM STDIN (FORMAT BINARY)"
)
DELETE_BY_KEY = (
    "DELETE FROM {} WHERE device_key IN (SELECT key FROM devices WHERE id = ANY(%(ids)s))"
)
DELETE_BY_ID = "DELETE FROM {} WHERE device_id = ANY(%(ids)s)"
# History tables cleared by --replace, and the column naming the device in each.
TABLES = {
    "telemetry_points": DELETE_BY_KEY,
    "device_latest_points": DELETE_BY_KEY,
    "device_events": DELETE_BY_ID,
    "device_status_changes": DELETE_BY_ID,
    "device_reachability_changes": DELETE_BY_ID,
    "device_status": DELETE_BY_ID,
}


@dataclass
class Device:
    """A device as the seeder needs it."""

    id: str
    key: int
    type: str
    interval: int
    parents: list[str]
    phase: float = 0.0
    own: list[tuple[float, float]] = field(default_factory=list)  # own outages
    silent: list[tuple[float, float]] = field(default_factory=list)  # no messages at all
    cut: list[tuple[float, float]] = field(default_factory=list)  # silent because parents down


def _merge(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        elif hi > lo:
            out.append((lo, hi))
    return out


def _intersect(
    a: list[tuple[float, float]], b: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    out = []
    for lo1, hi1 in a:
        for lo2, hi2 in b:
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if hi > lo:
                out.append((lo, hi))
    return _merge(out)


def _subtract(
    a: list[tuple[float, float]], b: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    out = []
    for lo, hi in a:
        pieces = [(lo, hi)]
        for blo, bhi in b:
            nxt = []
            for plo, phi in pieces:
                if bhi <= plo or blo >= phi:
                    nxt.append((plo, phi))
                    continue
                if blo > plo:
                    nxt.append((plo, blo))
                if bhi < phi:
                    nxt.append((bhi, phi))
            pieces = nxt
        out.extend(pieces)
    return out


def plan_outages(
    devices: dict[str, Device], start: float, end: float, rng: np.random.Generator
) -> None:
    """Draw outages and derive who is silent when (topological: cut off when all parents down)."""
    days = (end - start) / 86400
    span = end - start
    for dev in devices.values():
        for _ in range(rng.poisson(0.01 * days)):
            lo = start + rng.uniform(0, span)
            dur = min(72 * 3600, float(rng.lognormal(math.log(8 * 3600), 0.9)))
            dev.own.append((lo, min(end, lo + dur)))
    cameras = [d for d in devices.values() if d.type == "camera"]
    for dev in cameras[:: max(1, len(cameras) // 2)][:2] if days >= 1 else []:
        dev.own.append((end - min(span / 3, 5 * 86400), end))  # chronically offline lately
    hubs = [
        d
        for d in devices.values()
        if d.type == "link" and d.parents and _has_children(devices, d.id)
    ]
    if hubs:
        lo = start + span * 0.4
        hubs[0].own.append((lo, min(end, lo + min(2 * 3600, span / 10))))
    power = [
        (lo, min(end, lo + rng.uniform(1800, 10800)))
        for lo in (start + rng.uniform(0, span) for _ in range(rng.poisson(0.1 * days)))
    ]
    done: set[str] = set()
    while len(done) < len(devices):
        progressed = False
        for dev in devices.values():
            if dev.id in done or any(p not in done for p in dev.parents if p in devices):
                continue
            dev.own = _merge(dev.own + power)
            cut: list[tuple[float, float]] | None = None
            for p in dev.parents:
                if p in devices:
                    cut = devices[p].silent if cut is None else _intersect(cut, devices[p].silent)
            dev.cut = _subtract(cut or [], dev.own)
            dev.silent = _merge(dev.own + dev.cut)
            done.add(dev.id)
            progressed = True
        if not progressed:
            raise ValueError("topology cycle in registry")


def _has_children(devices: dict[str, Device], dev_id: str) -> bool:
    return any(dev_id in d.parents for d in devices.values())


def _local_hour(t: np.ndarray) -> np.ndarray:
    return ((t + LOCAL_OFFSET_S) % 86400) / 3600


def metric_values(m: Metric, dev: Device, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Plausible values of one metric at times ``t`` (epoch seconds)."""
    n = len(t)
    h = _local_hour(t)
    noise = rng.standard_normal(n)
    night = ((h < 6) | (h >= 18)).astype(float)
    busy = (((h >= 8) & (h < 11)) | ((h >= 14) & (h < 17))).astype(float)
    broadcast = (((h >= 6) & (h < 6.5)) | ((h >= 17) & (h < 17.5))).astype(float)
    name = m.name
    if name == "uptime_s":
        boots = np.array([hi for _, hi in dev.own] or [t[0] - 86400 * 3 if n else 0.0])
        idx = np.searchsorted(boots, t, side="right") - 1
        base = np.where(idx >= 0, boots[np.clip(idx, 0, None)], t[0] - 86400 * 5 if n else 0)
        return np.round(t - base)
    if name in ("data_mb_month",):
        return np.round((t % (30 * 86400)) / 86400 * 45.0, 1)
    gauges: dict[str, np.ndarray] = {
        "fps": np.clip(24.0 - np.abs(noise) * 0.8, 0, None),
        "fps_configured": np.full(n, 25.0),
        "bitrate_kbps": np.round(2000 * (1 + 0.3 * night) + 150 * noise),
        "bitrate_configured_kbps": np.full(n, 2048.0),
        "cpu_pct": np.clip(35 + 10 * busy + 5 * noise, 0, 100),
        "mem_pct": np.clip(55 + 3 * noise, 0, 100),
        "disk_used_pct": np.clip(90 + 4 * np.sin(t / 86400), 0, 100),
        "channels_recording": np.full(n, 16.0),
        "rsrp_dbm": np.round(-85 + 5 * np.sin(t / 7200 + dev.key) + 2 * noise, 1),
        "rsrq_db": np.round(-8 + 1.5 * noise, 1),
        "sinr_db": np.round(12 + 4 * noise, 1),
        "volume": np.full(n, 70.0),
        "state": broadcast,
        "battery_v": np.round(13.2 + 0.1 * noise, 2),
        "temp_c": np.round(30 + 6 * np.sin((h - 9) / 24 * 2 * np.pi) + noise, 1),
        "data_plan_mb": np.full(n, 3000.0),
        "loss_pct": np.round(np.abs(noise) * 0.2, 2),
        "rtt_ms": np.round(20 + 15 * busy + 3 * np.abs(noise), 1),
        "jitter_ms": np.round(2 + np.abs(noise), 1),
        "util_in_pct": np.clip(20 + 45 * busy + 5 * noise, 0, 100),
        "util_out_pct": np.clip(10 + 25 * busy + 4 * noise, 0, 100),
        "errors_per_s": (rng.random(n) < 0.01).astype(float),
        "wan": np.full(n, 2.0 if "4g" in dev.id else 0.0),
        "bandwidth_mbps": np.full(n, 100.0),
    }
    if name in gauges:
        return gauges[name]
    if m.kind == "bool":
        return np.ones(n)
    if m.kind == "enum":
        return np.zeros(n)
    lo, hi = m.min if m.min is not None else 0.0, m.max if m.max is not None else 100.0
    return np.clip((lo + hi) / 2 + (hi - lo) / 20 * noise, lo, hi)


def _times(dev: Device, lo: float, hi: float) -> np.ndarray:
    first = dev.phase + math.ceil((lo - dev.phase) / dev.interval) * dev.interval
    t = np.arange(first, hi, dev.interval, dtype=float)
    for slo, shi in dev.silent:
        if shi > lo and slo < hi:
            t = t[(t < slo) | (t >= shi)]
    return t


def _copy_chunk(
    conn: psycopg.Connection, parts: list[tuple[np.ndarray, np.ndarray, int, int]]
) -> int:
    total = sum(len(t) for t, _, _, _ in parts)
    rows = np.empty(total, dtype=TUPLE)
    rows["n"], rows["l1"], rows["l2"], rows["l3"], rows["l4"] = 4, 8, 8, 4, 2
    i = 0
    for t, v, key, metric in parts:
        j = i + len(t)
        rows["t"][i:j] = np.round((t - PG_EPOCH) * 1e6).astype(np.int64)
        rows["v"][i:j] = v
        rows["k"][i:j] = key
        rows["m"][i:j] = metric
        i = j
    rows = rows[np.argsort(rows["t"], kind="stable")]
    with conn.cursor() as cur, cur.copy(COPY_POINTS) as copy:
        copy.write(COPY_HEADER)
        data = rows.tobytes()
        for off in range(0, len(data), 8 << 20):
            copy.write(data[off : off + (8 << 20)])
        copy.write(COPY_TRAILER)
    return total


def _write_events(
    conn: psycopg.Connection,
    devices: dict[str, Device],
    start: float,
    end: float,
    rng: np.random.Generator,
) -> int:
    rows = []
    first_day = math.floor((start + LOCAL_OFFSET_S) / 86400)
    for dev in devices.values():
        if dev.type == "speaker":
            for day in range(first_day, math.floor((end + LOCAL_OFFSET_S) / 86400) + 1):
                for hour, sched in ((6, "daily-0600"), (17, "daily-1700")):
                    ts = day * 86400 + hour * 3600 - LOCAL_OFFSET_S + 2
                    if not start <= ts < end or any(lo <= ts < hi for lo, hi in dev.silent):
                        continue
                    missed = rng.random() < 0.02
                    data = {
                        "schedule_id": sched,
                        "result": "missed" if missed else "executed",
                        "priority": "normal",
                    }
                    rows.append((ts, dev.id, "broadcast", "warning" if missed else "info", data))
        for _, hi in dev.own:
            if hi < end:
                rows.append((hi + 1, dev.id, "reboot", "info", {"reason": "power"}))
    with (
        conn.cursor() as cur,
        cur.copy(
            "COPY device_events (time, device_id, seq, type, severity, data, received_at) FROM STDIN"
        ) as copy,
    ):
        for ts, dev_id, kind, sev, data in rows:
            when = datetime.fromtimestamp(ts, UTC)
            copy.write_row((when, dev_id, int(ts * 1000), kind, sev, json.dumps(data), when))
    return len(rows)


def _write_changes(
    conn: psycopg.Connection, devices: dict[str, Device], start: float, end: float
) -> int:
    status, reach = [], []
    for dev in devices.values():
        status.append((start, dev.id, True))
        reach.append((start, dev.id, "online", None))
        for lo, hi in dev.silent:
            status.append((lo, dev.id, False))
            cut = any(clo <= lo < chi for clo, chi in dev.cut)
            root = next((p for p in dev.parents if p in devices), None) if cut else None
            reach.append((lo, dev.id, "unreachable" if cut else "offline", root))
            if hi < end:
                status.append((hi, dev.id, True))
                reach.append((hi, dev.id, "online", None))
    with conn.cursor() as cur:
        with cur.copy(
            "COPY device_status_changes (time, device_id, online, received_at) FROM STDIN"
        ) as copy:
            for ts, dev_id, online in status:
                when = datetime.fromtimestamp(ts, UTC)
                copy.write_row((when, dev_id, online, when))
        with cur.copy(
            "COPY device_reachability_changes (time, device_id, state, root_cause_id) FROM STDIN"
        ) as copy:
            for ts, dev_id, state, root in reach:
                copy.write_row((datetime.fromtimestamp(ts, UTC), dev_id, state, root))
    return len(status)


UPSERT_LATEST = """
INSERT INTO device_latest_points (device_key, metric_id, time, value)
SELECT d.key, m.id, %(t)s, %(v)s FROM devices d, metrics m WHERE d.id = %(d)s AND m.name = %(m)s
ON CONFLICT (device_key, metric_id) DO UPDATE SET time = excluded.time, value = excluded.value
"""
UPSERT_STATUS = """
INSERT INTO device_status (device_id, online, status_time, last_seen, last_received_at, last_seq, messages)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (device_id) DO UPDATE SET online = excluded.online, status_time = excluded.status_time,
    last_seen = excluded.last_seen, last_received_at = excluded.last_received_at,
    last_seq = excluded.last_seq, messages = excluded.messages
"""


def seed(
    conn: psycopg.Connection,
    registry_path: Path = DEFAULT_REGISTRY,
    days: float = 30.0,
    *,
    end: datetime | None = None,
    replace: bool = False,
    random_seed: int = 7,
) -> dict[str, float]:
    """Import the registry and write ``days`` of history ending at ``end`` (default now)."""
    started = clock.perf_counter()
    rng = np.random.default_rng(random_seed)
    registry = load_file(registry_path)
    sync_catalogue(conn)
    import_registry(conn, registry, str(registry_path))
    ids = [d.id for d in registry.devices if not d.decommissioned]
    if replace:
        for table, delete in TABLES.items():
            conn.execute(sql.SQL(delete).format(sql.Identifier(table)), {"ids": ids})
    metric_ids = dict(conn.execute("SELECT name, id FROM metrics").fetchall())
    keys = dict(conn.execute("SELECT id, key FROM devices WHERE id = ANY(%s)", (ids,)).fetchall())
    end_ts = math.floor((end or datetime.now(UTC)).timestamp())
    start_ts = end_ts - days * 86400
    devices = {
        d.id: Device(
            d.id,
            keys[d.id],
            d.type,
            d.interval,
            d.parents,
            phase=float(rng.integers(0, d.interval)),
        )
        for d in registry.devices
        if d.id in keys
    }
    plan_outages(devices, start_ts, end_ts, rng)
    first_day = datetime.fromtimestamp(start_ts, UTC).date()
    for table in ("telemetry_points", "device_events"):
        conn.execute(
            "SELECT ioc_ensure_partitions(%s, %s, %s)",
            (
                table,
                first_day - timedelta(days=1),
                datetime.fromtimestamp(end_ts, UTC).date() + timedelta(days=3),
            ),
        )
    conn.commit()
    points = 0
    latest: dict[tuple[str, str], tuple[float, float]] = {}
    messages: dict[str, tuple[int, float]] = {}
    lo = float(start_ts)
    while lo < end_ts:
        hi = min(float(end_ts), (math.floor(lo / 86400) + 1) * 86400.0)
        parts = []
        for dev in devices.values():
            t = _times(dev, lo, hi)
            if not len(t):
                continue
            count, _ = messages.get(dev.id, (0, 0.0))
            messages[dev.id] = (count + len(t), float(t[-1]))
            for m in TYPES[dev.type].metrics:
                v = metric_values(m, dev, t, rng)
                parts.append((t, v, dev.key, metric_ids[m.name]))
                latest[(dev.id, m.name)] = (float(t[-1]), float(v[-1]))
        if parts:
            points += _copy_chunk(conn, parts)
        conn.commit()
        log.info("seeded up to %s (%d points)", datetime.fromtimestamp(hi, UTC), points)
        lo = hi
    events = _write_events(conn, devices, start_ts, end_ts, rng)
    changes = _write_changes(conn, devices, start_ts, end_ts)
    with conn.cursor() as cur:
        cur.executemany(
            UPSERT_LATEST,
            [
                {"d": d, "m": m, "t": datetime.fromtimestamp(t, UTC), "v": v}
                for (d, m), (t, v) in latest.items()
            ],
        )
        cur.executemany(
            UPSERT_STATUS,
            [
                (
                    dev.id,
                    not any(lo_ <= end_ts < hi_ + 1 for lo_, hi_ in dev.silent),
                    datetime.fromtimestamp(
                        max([start_ts] + [x for iv in dev.silent for x in iv if x <= end_ts]), UTC
                    ),
                    datetime.fromtimestamp(messages[dev.id][1], UTC),
                    datetime.fromtimestamp(messages[dev.id][1] + 0.2, UTC),
                    messages[dev.id][0],
                    messages[dev.id][0],
                )
                for dev in devices.values()
                if dev.id in messages
            ],
        )
    conn.commit()
    elapsed = clock.perf_counter() - started
    return {
        "devices": len(devices),
        "days": days,
        "points": points,
        "events": events,
        "status_changes": changes,
        "seconds": round(elapsed, 2),
        "points_per_s": round(points / elapsed) if elapsed else 0,
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: seed history into the database given by --db."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="PostgreSQL URL of a migrated IOC database")
    parser.add_argument("--days", type=float, default=30.0, help="days of history (default 30)")
    parser.add_argument("--registry", type=Path, default=DEFAULT_REGISTRY, help="registry YAML/CSV")
    parser.add_argument(
        "--replace", action="store_true", help="delete these devices' history first"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    parser.add_argument("--migrate", action="store_true", help="apply migrations first")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.migrate:
        from ioc.migrate import apply, create_database_if_missing

        create_database_if_missing(args.db)
        apply(args.db)
    with psycopg.connect(args.db) as conn:
        summary = seed(conn, args.registry, args.days, replace=args.replace, random_seed=args.seed)
    for name, value in summary.items():
        print(f"{name}: {value}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
