"""Ingest through each bus side by side: Mosquitto, a 1-node NATS bus, a 3-node replicated bus.

For each ``--bus`` it starts the bus on free loopback ports, a scratch database, and
``ioc ingest --workers N`` on it, then publishes paced QoS 1 readings (raw-socket publishers,
bench/fastpub.py; on the bus spread over every node) at each rate of ``--rates`` for
``--paced-s`` seconds. A rate is *kept up with* when the publishers reached it (within 10 %: they
wait for PUBACKs, so a slow bus slows them) and everything was committed within 2 s of them
stopping. Per rate it prints the committed msg/s, the p99 latency
(publish -> committed, from a probe device polled every 10 ms) and the CPU per message of each
component (bus nodes, ingest, PostgreSQL, load generator), from /proc. Everything runs on this
machine's cores. Usage::

    python bench/bus_throughput.py --bus mosquitto,nats1,nats3 --rates 2000,4000,6000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import fastpub  # noqa: E402
from bench.ingest_throughput import (  # noqa: E402
    COMMUNE,
    PREFIX,
    PROBE,
    RESET,
    children,
    cpu_seconds,
    payload,
    registry_yaml,
    written,
)
from bench.throwaway import throwaway_database  # noqa: E402
from devices.registry import parse_yaml  # noqa: E402
from devices.store import import_registry  # noqa: E402
from ioc.bus.local import LocalCluster  # noqa: E402
from ioc.contract import device_topic  # noqa: E402
from tests.plugins.broker import Mosquitto  # noqa: E402
from tests.plugins.postgres import migrate_database  # noqa: E402


def publisher(port: int, index: int, count: int, devices: list[str], rate: float, out: Any) -> None:
    """Paced QoS 1 publisher on one node; reports (acked, cpu seconds)."""
    sock = fastpub.connect(port, f"bench-pub-{index}-{uuid.uuid4().hex[:6]}")
    last: dict[str, int] = {}
    first_seq = int(time.time()) % 100_000_000 * 10  # rises from run to run, stays in bounds

    def message(i: int) -> tuple[str, bytes]:
        device = devices[i % len(devices)]
        ts = max(int(time.time() * 1000), last.get(device, 0) + 1)
        last[device] = ts
        return device_topic(COMMUNE, device, "telemetry", PREFIX), payload(
            ts, first_seq + i // len(devices)
        )

    acked = fastpub.publish(sock, count, message, rate)
    sock.close()
    t = os.times()
    out.put((acked, t.user + t.system))


class Bus:
    """The bus under test: its MQTT ports, its pids and the ingest environment."""

    def __init__(self, kind: str, directory: Path) -> None:
        self.kind = kind
        self.mosquitto: Mosquitto | None = None
        self.cluster: LocalCluster | None = None
        if kind == "mosquitto":
            self.mosquitto = Mosquitto().start()
        else:
            nodes = int(kind.removeprefix("nats"))
            self.cluster = LocalCluster(directory / kind, nodes).start()

    @property
    def ports(self) -> list[int]:
        if self.mosquitto:
            return [self.mosquitto.port]
        assert self.cluster
        return [n.mqtt_port for n in self.cluster.nodes]

    def pids(self) -> list[int]:
        if self.mosquitto:
            return [self.mosquitto.proc.pid] if self.mosquitto.proc else []
        assert self.cluster
        return [n.proc.pid for n in self.cluster.nodes if n.proc]

    def env(self) -> dict[str, str]:
        if self.mosquitto:
            return {"IOC_MQTT_URL": self.mosquitto.url}
        assert self.cluster
        return {**self.cluster.env(), "IOC_INGEST_TOPIC_PREFIX": PREFIX}

    def stop(self) -> None:
        if self.mosquitto:
            self.mosquitto.stop()
        if self.cluster:
            self.cluster.stop()


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine so far (/proc/stat: all but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK")


def probe(port: int, stop: threading.Event, rate: float = 20.0) -> None:
    """Publish the probe device's readings (ts = publish time) until ``stop``."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect("127.0.0.1", port)
    client.loop_start()
    seq = 0
    while not stop.wait(1 / rate):
        seq += 1
        ts = int(time.time() * 1000)
        client.publish(device_topic(COMMUNE, PROBE, "telemetry", PREFIX), payload(ts, seq), 1)
    client.disconnect()
    client.loop_stop()


def poll_latency(db_url: str, stop: threading.Event, out: list[float]) -> None:
    """Latency of each probe reading: commit seen (polled every 10 ms) minus its timestamp."""
    seen = 0.0
    with psycopg.connect(db_url, autocommit=True) as conn:
        while not stop.wait(0.01):
            rows = conn.execute(
                "SELECT extract(epoch FROM time) FROM telemetry WHERE device_id = %(d)s "
                "AND metric = 'fps' AND time > to_timestamp(%(seen)s)",
                {"d": PROBE, "seen": seen},
            ).fetchall()
            now = time.time()
            for (ts,) in rows:
                out.append(now - float(ts))
                seen = max(seen, float(ts))


def paced(bus: Bus, db_url: str, ingest_pids: list[int], rate: float, seconds: float, pubs: int):
    """One paced run; returns its figures."""
    devices = [f"cam-{i:05d}" for i in range(1000)]
    with psycopg.connect(db_url, autocommit=True) as conn:
        before_rows, _ = written(conn)
    count = int(rate * seconds)
    ports = bus.ports
    q: Any = mp.Queue()
    procs = [
        mp.Process(
            target=publisher,
            args=(ports[i % len(ports)], i, count // pubs, devices[i::pubs], rate / pubs, q),
        )
        for i in range(pubs)
    ]
    stop = threading.Event()
    latencies: list[float] = []
    threads = [
        threading.Thread(target=probe, args=(ports[-1], stop), daemon=True),
        threading.Thread(target=poll_latency, args=(db_url, stop, latencies), daemon=True),
    ]
    cpu0 = {
        "machine": machine_cpu(),
        "bus": cpu_seconds(bus.pids()),
        "ingest": cpu_seconds(ingest_pids),
    }
    t0 = time.time()
    for t in threads:
        t.start()
    for p in procs:
        p.start()
    results = [q.get(timeout=seconds * 10 + 60) for _ in procs]
    for p in procs:
        p.join()
    published_at = time.time()
    want = before_rows + 5 * sum(r[0] for r in results)  # 5 metrics a message
    kept_up = False
    with psycopg.connect(db_url, autocommit=True) as conn:
        deadline = published_at + 30
        while time.time() < deadline:
            rows, last_commit = written(conn)
            if rows >= want:
                kept_up = last_commit is not None and last_commit - published_at <= 2.0
                break
            time.sleep(0.05)
        rows, last_commit = written(conn)
    elapsed = max(published_at, last_commit or published_at) - t0
    stop.set()
    for t in threads:
        t.join(5)
    messages = (rows - before_rows) // 5
    # Publishers wait for PUBACKs: a bus that cannot take the rate slows them down, so the rate
    # must also have been reached (within 10 %), not only the backlog committed.
    kept_up = kept_up and messages / elapsed >= 0.9 * rate
    cpu = {
        "bus": cpu_seconds(bus.pids()) - cpu0["bus"],
        "ingest": cpu_seconds(ingest_pids) - cpu0["ingest"],
        "load": sum(r[1] for r in results),
    }
    # PostgreSQL backends come and go: count it as the machine's busy CPU minus the others.
    cpu["postgres_and_rest"] = machine_cpu() - cpu0["machine"] - sum(cpu.values())
    lat = sorted(latencies)
    return {
        "rate": rate,
        "messages": messages,
        "msg_s": round(messages / elapsed),
        "kept_up": kept_up,
        "p50_s": round(statistics.median(lat), 3) if lat else None,
        "p99_s": round(lat[int(0.99 * (len(lat) - 1))], 3) if lat else None,
        "cpu_us_per_msg": {k: round(v / max(messages, 1) * 1e6, 1) for k, v in cpu.items()},
    }


def run_bus(kind: str, args: argparse.Namespace, directory: Path) -> list[dict[str, Any]]:
    database = ExitStack()
    db_url = database.enter_context(throwaway_database(args.admin_url, "bus"))
    bus = Bus(kind, directory)
    proc: subprocess.Popen[bytes] | None = None
    try:
        migrate_database(db_url)
        with psycopg.connect(db_url) as c:
            import_registry(c, parse_yaml(registry_yaml(1000), "bench.yaml"), "bench.yaml")
            c.execute(RESET)
        env = {
            **os.environ,
            **bus.env(),
            "IOC_DATABASE_URL": db_url,
            "IOC_LOG_LEVEL": "WARNING",
            "IOC_INGEST_INSTANCE": "bench",
            "IOC_INGEST_TOPIC_PREFIX": PREFIX,
            "IOC_INGEST_HEARTBEAT_S": "0.2",
            "IOC_INGEST_BATCH_SIZE": str(args.batch_size),
        }
        cmd = [sys.executable, "-m", "ioc", "ingest", "--workers", str(args.workers)]
        proc = subprocess.Popen(cmd, env=env, cwd=REPO)
        with psycopg.connect(db_url, autocommit=True) as conn:
            deadline = time.time() + 60
            while time.time() < deadline:
                n = conn.execute("SELECT count(*) FROM ingest_instances").fetchone()
                if n and n[0] >= args.workers:
                    break
                time.sleep(0.2)
        time.sleep(1.0)  # subscribed / pulling
        ingest_pids = [proc.pid, *children(proc.pid)]
        out = []
        for rate in args.rates:
            figures = paced(bus, db_url, ingest_pids, rate, args.paced_s, args.publishers)
            figures["bus"] = kind
            print(json.dumps(figures), flush=True)
            out.append(figures)
            if not figures["kept_up"]:
                with psycopg.connect(db_url) as conn:
                    q = conn.execute(
                        "SELECT reason, count(*) FROM quarantine GROUP BY 1"
                    ).fetchall()
                print(f"{kind}: {rate:.0f} msg/s not kept up with (quarantined: {dict(q)})")
                break
        return out
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        bus.stop()
        database.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bus", default="mosquitto,nats1,nats3", help="buses, in order")
    parser.add_argument("--rates", default="2000,4000,6000", help="paced msg/s, ascending")
    parser.add_argument("--paced-s", type=float, default=10.0, help="seconds per rate")
    parser.add_argument("--publishers", type=int, default=3, help="publisher processes")
    parser.add_argument("--workers", type=int, default=1, help="ioc ingest --workers")
    parser.add_argument("--batch-size", type=int, default=2000, help="IOC_INGEST_BATCH_SIZE")
    parser.add_argument(
        "--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres", help="PostgreSQL"
    )
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",")]
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="ioc-bench-bus-") as tmp:
        for kind in args.bus.split(","):
            results[kind] = run_bus(kind, args, Path(tmp))
    print(f"side by side ({os.cpu_count()} cores shared by everything):")
    for kind, runs in results.items():
        best = max((r for r in runs if r["kept_up"]), key=lambda r: r["rate"], default=None)
        if best is None:
            print(f"  {kind:9s} kept up with none of the rates; first: {runs[0] if runs else '-'}")
            continue
        print(
            f"  {kind:9s} sustained {best['msg_s']} msg/s (paced {best['rate']:.0f}), "
            f"p50 {best['p50_s']} s, p99 {best['p99_s']} s, CPU µs/msg {best['cpu_us_per_msg']}"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
