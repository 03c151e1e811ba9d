"""End-to-end ingest benchmark: QoS 1 publish → commit throughput, latency, naive baseline.

Starts a mosquitto from the repo's config on a free port and a scratch database, registers
``--devices`` cameras, then for each ``--workers`` count runs ``ioc ingest --workers N`` and:
  1. peak: ``--publishers`` load generators (raw-socket QoS 1, bench/fastpub.py) publish
     ``--messages`` messages (5 metrics each) as fast as the broker acknowledges them.
     *while publishing* = commit rate while the publishers still run (ingest saturated, the load
     generator and the broker's intake on the same cores); *drain* = messages / (last commit −
     first publish), read from the ``ingest_instances`` counters;
  2. with ``--ramp R1,R2,...``: paced runs at those rates, ``--paced-s`` each, until one is not
     kept up with (its backlog not committed within 2 s of the publishers stopping); the
     highest rate kept up with is then the sustained peak;
  3. latency at 50 % and 80 % of the sustained peak: paced publishers for ``--paced-s`` seconds
     plus a probe device whose readings carry their publish time; a poller reads each probe
     row as it is committed (polled every 10 ms).
Then the naive baseline (paho callback, one INSERT per metric, commit per message) on the same
broker and database, for the ratio. One line per figure, then a JSON summary. Usage::

    python bench/ingest_throughput.py --messages 150000 --workers 1,2,4 --publishers 1 \\
        --ramp 6000,8000,10000,12000,14000,16000 --paced-s 12
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import fastpub  # noqa: E402
from bench.throwaway import throwaway_database  # noqa: E402
from devices.registry import parse_yaml  # noqa: E402
from devices.store import import_registry  # noqa: E402
from ioc.contract import TOPIC_ROOT, device_topic  # noqa: E402
from tests.plugins.broker import Mosquitto  # noqa: E402
from tests.plugins.postgres import migrate_database  # noqa: E402

COMMUNE = "21025"
PREFIX = f"bench/{TOPIC_ROOT}"
PROBE = "probe-cam"
RESET = """
TRUNCATE telemetry_points, device_latest_points, device_status, device_status_changes, quarantine,
         ingest_instances
"""


def registry_yaml(devices: int) -> str:
    lines = [f'communes: [{{code: "{COMMUNE}", name: "Xã Bench"}}]', "devices:"]
    for i in range(devices):
        lines.append(
            f'  - {{id: cam-{i:05d}, type: camera, commune: "{COMMUNE}", name: "Cam {i}"}}'
        )
    lines.append(f'  - {{id: {PROBE}, type: camera, commune: "{COMMUNE}", name: "Probe"}}')
    return "\n".join(lines) + "\n"


def payload(ts_ms: int, seq: int) -> bytes:
    return (
        f'{{"ts":{ts_ms},"seq":{seq},"metrics":{{"fps":24.5,"bitrate_kbps":2048,'
        f'"cpu_pct":{seq % 100},"mem_pct":41.5,"uptime_s":{seq}}}}}'
    ).encode()


def publisher(
    url_port: int, index: int, count: int, devices: list[str], rate: float, out: Any
) -> None:
    """Publish ``count`` messages (``rate`` msg/s, 0 = as fast as possible); report timings."""
    sock = fastpub.connect(url_port, f"bench-pub-{index}-{uuid.uuid4().hex[:6]}")
    last: dict[str, int] = {}

    def message(i: int) -> tuple[str, bytes]:
        device = devices[i % len(devices)]
        ts = max(int(time.time() * 1000), last.get(device, 0) + 1)
        last[device] = ts
        return device_topic(COMMUNE, device, "telemetry", PREFIX), payload(
            ts, i // len(devices)
        )  # seq counts per device

    t0 = time.time()
    acked = fastpub.publish(sock, count, message, rate)
    out.put((index, t0, time.time(), acked))
    sock.close()


def run_publishers(port: int, n: int, pubs: int, devices: list[str], rate: float) -> dict[str, Any]:
    q: Any = mp.Queue()
    share = [devices[i::pubs] for i in range(pubs)]
    procs = [
        mp.Process(target=publisher, args=(port, i, n // pubs, share[i], rate / pubs, q))
        for i in range(pubs)
    ]
    for p in procs:
        p.start()
    results = [q.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    return {
        "start": min(r[1] for r in results),
        "end": max(r[2] for r in results),
        "acked": sum(r[3] for r in results),
    }


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds consumed so far by ``pids`` (Linux /proc)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def postgres_pids() -> list[int]:
    """Pids of the PostgreSQL server processes on this machine (Linux /proc)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/comm"):
        try:
            if stat.read_text().strip() in ("postgres", "postmaster"):
                pids.append(int(stat.parent.name))
        except OSError:
            continue
    return pids


def children(pid: int) -> list[int]:
    """Direct child pids (the ingest workers of a supervisor)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def written(conn: psycopg.Connection) -> tuple[int, float | None]:
    row = conn.execute(
        "SELECT coalesce(sum(written_rows), 0), extract(epoch FROM max(last_commit_at))"
        " FROM ingest_instances"
    ).fetchone()
    assert row is not None
    return int(row[0]), (float(row[1]) if row[1] is not None else None)


def start_ingest(
    db_url: str, broker: Mosquitto, workers: int, batch: int
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "IOC_DATABASE_URL": db_url,
        "IOC_MQTT_URL": broker.url,
        "IOC_LOG_LEVEL": "WARNING",
        "IOC_INGEST_INSTANCE": "bench",
        "IOC_INGEST_TOPIC_PREFIX": PREFIX,
        "IOC_INGEST_HEARTBEAT_S": "0.2",
        "IOC_INGEST_BATCH_SIZE": str(batch),
    }
    cmd = [
        sys.executable,
        "-c",
        "from ioc.cli import main; main()",
        "ingest",
        "--workers",
        str(workers),
    ]
    return subprocess.Popen(cmd, env=env, cwd=REPO)


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def summarize_profile(path: str, top: int = 15) -> list[tuple[float, str]]:
    """Share of samples per innermost frame of a py-spy raw profile, largest first."""
    own: dict[str, int] = {}
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frame = stack.split(";")[-1]
        own[frame] = own.get(frame, 0) + int(n)
        total += int(n)
    ranked = sorted(own.items(), key=lambda kv: -kv[1])[:top]
    return [(100 * n / max(total, 1), frame) for frame, n in ranked]


def wait_workers(conn: psycopg.Connection, proc: subprocess.Popen[bytes], workers: int) -> None:
    """Wait until every ingest worker heartbeats; stop if `ioc ingest` exited."""

    def ready() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"ioc ingest exited with {proc.returncode}")
        row = conn.execute("SELECT count(*) FROM ingest_instances").fetchone()
        return row is not None and row[0] >= workers

    wait_for(ready, 60, "ingest workers")


def peak(
    conn: psycopg.Connection,
    port: int,
    n: int,
    pubs: int,
    devices: list[str],
    pids: dict[str, list[int]],
) -> dict[str, Any]:
    base, _ = written(conn)
    cpu0 = {k: cpu_seconds(v) for k, v in pids.items()}
    batch_ms: list[float] = []
    sampling = threading.Event()

    progress: list[tuple[float, int]] = []  # (time, rows written) every 0.1 s

    def sample() -> None:
        with psycopg.connect(conn.info.dsn, autocommit=True) as c:
            while not sampling.wait(0.1):
                row = c.execute(
                    "SELECT avg(last_batch_ms), coalesce(sum(written_rows), 0) FROM ingest_instances"
                ).fetchone()
                assert row is not None
                progress.append((time.time(), int(row[1])))
                if row[0] is not None:
                    batch_ms.append(float(row[0]))

    sampler = threading.Thread(target=sample)
    sampler.start()
    pub = run_publishers(port, n, pubs, devices, 0)
    target = base + 5 * pub["acked"]
    wait_for(lambda: written(conn)[0] >= target, 600, "all rows committed")
    sampling.set()
    sampler.join()
    cpu = {k: cpu_seconds(v) - cpu0[k] for k, v in pids.items()}
    rows, last_commit = written(conn)
    assert last_commit is not None
    elapsed = last_commit - pub["start"]
    # Sustained: the commit rate while the publishers were still running (ingest saturated,
    # the load generator and the broker's intake competing for the same cores), after 1 s.
    window = [(t, r) for t, r in progress if pub["start"] + 1.0 <= t <= pub["end"]]
    while_publishing = None
    if len(window) >= 10 and window[-1][0] - window[0][0] >= 2.0:
        (t0, r0), (t1, r1) = window[0], window[-1]
        while_publishing = (r1 - r0) / 5 / (t1 - t0)
    return {
        "messages": pub["acked"],
        "msg_per_s": pub["acked"] / elapsed,
        "while_publishing_msg_per_s": while_publishing,
        "rows_per_s": (rows - base) / elapsed,
        "publish_msg_per_s": pub["acked"] / (pub["end"] - pub["start"]),
        "seconds": elapsed,
        "batch_ms_median": statistics.median(batch_ms) if batch_ms else None,
        **{f"{k}_cpu_us_per_msg": 1e6 * v / pub["acked"] for k, v in cpu.items()},
    }


def paced_latency(
    conn: psycopg.Connection, port: int, rate: float, seconds: float, pubs: int, devices: list[str]
) -> dict[str, Any]:
    """p50/p99 publish→commit latency of probe readings while the fleet publishes at ``rate``."""
    key_row = conn.execute("SELECT key FROM devices WHERE id = %s", (PROBE,)).fetchone()
    assert key_row is not None
    probe_key = key_row[0]
    fps_row = conn.execute("SELECT id FROM metrics WHERE name = 'fps'").fetchone()
    assert fps_row is not None
    fps_id = fps_row[0]
    latencies: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        since = datetime.now(UTC)
        known: set[datetime] = set()  # workers commit out of order: remember what was seen
        while not stop.is_set():
            try:
                with psycopg.connect(conn.info.dsn, autocommit=True) as c:
                    while not stop.is_set():
                        # Prepared: planning over every daily partition at 100 polls/s
                        # would cost the machine under test a good share of a core.
                        rows = c.execute(
                            "SELECT time FROM telemetry_points WHERE device_key = %s AND metric_id"
                            " = %s AND time > %s",
                            (probe_key, fps_id, since),
                            prepare=True,
                        ).fetchall()
                        now = time.time()
                        for (t,) in rows:
                            if t not in known:
                                known.add(t)
                                latencies.append(now - t.timestamp())
                        time.sleep(0.01)
            except psycopg.OperationalError:
                time.sleep(0.1)  # another session terminated ours; keep measuring

    poller = threading.Thread(target=poll)
    poller.start()
    probe = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:6]}")
    probe.connect("127.0.0.1", port)
    probe.loop_start()
    rows0, _ = written(conn)
    fleet_result: dict[str, Any] = {}

    def run_fleet() -> None:
        fleet_result.update(run_publishers(port, int(rate * seconds), pubs, devices, rate))

    fleet = threading.Thread(target=run_fleet)
    fleet.start()
    seq = 0
    while fleet.is_alive():
        seq += 1
        probe.publish(
            f"{PREFIX}/{COMMUNE}/{PROBE}/telemetry", payload(int(time.time() * 1000), seq), qos=1
        )
        time.sleep(0.05)
    fleet.join()
    published = time.time()
    wait_for(lambda: written(conn)[0] >= rows0 + 5 * fleet_result["acked"], 300, "stream committed")
    drain_s = time.time() - published
    wait_for(lambda: len(latencies) >= seq * 0.98, 60, "probe readings committed")
    stop.set()
    poller.join()
    probe.disconnect()
    probe.loop_stop()
    ordered = sorted(latencies)
    return {
        "rate": rate,
        "achieved": fleet_result["acked"] / (fleet_result["end"] - fleet_result["start"]),
        # Kept up: the backlog left when the publishers stopped was committed within 2 s.
        "drain_s": drain_s,
        "kept_up": drain_s < 2.0,
        "probes": len(ordered),
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
    }


def naive_consumer(port: int, db_url: str, ready: Any) -> None:
    """What an integrator writes first: one INSERT per metric, commit per message."""
    conn = psycopg.connect(db_url)
    keys = dict(conn.execute("SELECT id, key FROM devices").fetchall())
    metric_ids = dict(conn.execute("SELECT name, id FROM metrics").fetchall())
    conn.commit()

    def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        data = json.loads(msg.payload)
        device = msg.topic.split("/")[-2]
        ts = datetime.fromtimestamp(data["ts"] / 1000, UTC)
        for name, value in data["metrics"].items():
            conn.execute(
                "INSERT INTO telemetry_points (time, value, device_key, metric_id)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (ts, value, keys[device], metric_ids[name]),
            )
        conn.commit()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-naive", clean_session=False)
    client.on_message = on_message
    client.on_connect = lambda c, *_: (c.subscribe(f"{PREFIX}/+/+/telemetry", qos=1), ready.set())
    client.connect("127.0.0.1", port)
    client.loop_forever()


def baseline(
    conn: psycopg.Connection, broker: Mosquitto, db_url: str, n: int, pubs: int, devices: list[str]
) -> dict[str, Any]:
    conn.execute(RESET)
    ready = mp.Event()
    proc = mp.Process(target=naive_consumer, args=(broker.port, db_url, ready), daemon=True)
    proc.start()
    ready.wait(30)
    pub = run_publishers(broker.port, n, pubs, devices, 0)
    count = lambda: conn.execute("SELECT count(*) FROM telemetry_points").fetchone()[0]  # noqa: E731
    wait_for(lambda: count() >= 5 * pub["acked"], 900, "naive baseline to finish")
    elapsed = time.time() - pub["start"]
    proc.terminate()
    proc.join()
    return {
        "messages": pub["acked"],
        "msg_per_s": pub["acked"] / elapsed,
        "rows_per_s": 5 * pub["acked"] / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=60000, help="messages per peak run")
    parser.add_argument("--workers", default="1,2", help="ingest process counts, e.g. 1,2,4")
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument("--devices", type=int, default=1000, help="registered cameras")
    parser.add_argument("--batch-size", type=int, default=2000, help="IOC_INGEST_BATCH_SIZE")
    parser.add_argument(
        "--paced-s", type=float, default=8.0, help="seconds per latency run (0 = skip)"
    )
    parser.add_argument(
        "--ramp",
        default="",
        help="paced rates (msg/s) tried in order for --paced-s each, e.g. 6000,8000,10000: the "
        "sustained peak is the highest one kept up with (latency then at 50/80 %% of it)",
    )
    parser.add_argument(
        "--profile", default="", help="py-spy raw profile of one ingest worker to this path prefix"
    )
    parser.add_argument("--baseline-messages", type=int, default=3000, help="0 = skip baseline")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "IOC_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    database = ExitStack()
    db_url = database.enter_context(throwaway_database(args.admin_url, "ingest"))
    summary: dict[str, Any] = {"messages": args.messages, "publishers": args.publishers, "runs": {}}
    broker: Mosquitto | None = None
    try:
        migrate_database(db_url)
        with psycopg.connect(db_url) as c:
            import_registry(c, parse_yaml(registry_yaml(args.devices)), "bench")
        devices = [f"cam-{i:05d}" for i in range(args.devices)]
        conn = psycopg.connect(db_url, autocommit=True)
        for workers in [int(w) for w in args.workers.split(",")]:
            conn.execute(RESET)
            broker = Mosquitto().start()
            proc = start_ingest(db_url, broker, workers, args.batch_size)
            try:
                wait_workers(conn, proc, workers)
                time.sleep(1.0)  # let every worker subscribe
                assert broker.proc is not None
                pids = {
                    # `--workers 1` runs the service in the supervisor's own process
                    "ingest": children(proc.pid) if workers > 1 else [proc.pid],
                    "broker": [broker.proc.pid],
                    # every server process (ingest's backends, WAL writer, checkpointer...)
                    "postgres": postgres_pids(),
                }
                spy = None
                if args.profile:
                    spy = subprocess.Popen(
                        [
                            str(Path(sys.executable).parent / "py-spy"),
                            "record",
                            "--nonblocking",
                            "-r",
                            "100",
                            "-f",
                            "raw",
                            "-o",
                            f"{args.profile}.w{workers}",
                            "-p",
                            str(pids["ingest"][0]),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                run: dict[str, Any] = {
                    "peak": peak(conn, broker.port, args.messages, args.publishers, devices, pids)
                }
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(30)
                    run["profile"] = summarize_profile(f"{args.profile}.w{workers}")
                    for pct, frame in run["profile"]:
                        print(f"workers={workers} profile_pct {pct:.1f} {frame}")
                p = run["peak"]
                print(f"workers={workers} ingest_cpu_us_per_msg {p['ingest_cpu_us_per_msg']:.0f}")
                print(f"workers={workers} broker_cpu_us_per_msg {p['broker_cpu_us_per_msg']:.0f}")
                print(
                    f"workers={workers} postgres_cpu_us_per_msg {p['postgres_cpu_us_per_msg']:.0f}"
                )
                print(f"workers={workers} batch_write_ms_median {p['batch_ms_median']:.0f}")
                print(f"workers={workers} drain_msg_per_s {p['msg_per_s']:.0f}")
                if p["while_publishing_msg_per_s"]:
                    print(
                        f"workers={workers} while_publishing_msg_per_s "
                        f"{p['while_publishing_msg_per_s']:.0f}"
                    )
                print(f"workers={workers} drain_rows_per_s {p['rows_per_s']:.0f}")
                print(f"workers={workers} publish_msg_per_s {p['publish_msg_per_s']:.0f}")
                sustained = p["while_publishing_msg_per_s"] or p["msg_per_s"]
                if args.ramp:
                    run["ramp"] = []
                    for rate in [float(r) for r in args.ramp.split(",")]:
                        lat = paced_latency(
                            conn, broker.port, rate, args.paced_s, args.publishers, devices
                        )
                        run["ramp"].append(lat)
                        print(
                            f"workers={workers} ramp rate={rate:.0f} achieved "
                            f"{lat['achieved']:.0f} p50_ms {lat['p50_ms']:.0f} p99_ms "
                            f"{lat['p99_ms']:.0f} drain_s {lat['drain_s']:.1f} kept_up "
                            f"{lat['kept_up']}"
                        )
                        if not lat["kept_up"]:
                            break
                    kept = [r["achieved"] for r in run["ramp"] if r["kept_up"]]
                    sustained = max(kept) if kept else 0.0  # none kept up: no latency runs
                    print(f"workers={workers} ramp_sustained_msg_per_s {sustained:.0f}")
                if args.paced_s and sustained:
                    for frac in (0.5, 0.8):
                        lat = paced_latency(
                            conn,
                            broker.port,
                            frac * sustained,
                            args.paced_s,
                            args.publishers,
                            devices,
                        )
                        run[f"latency_{int(frac * 100)}pct"] = lat
                        print(
                            f"workers={workers} rate={lat['rate']:.0f} p50_ms {lat['p50_ms']:.0f}"
                        )
                        print(
                            f"workers={workers} rate={lat['rate']:.0f} p99_ms {lat['p99_ms']:.0f}"
                        )
                run["sustained_msg_per_s"] = sustained
                summary["runs"][str(workers)] = run
            finally:
                proc.terminate()
                proc.wait(30)
                broker.close()
                broker = None
        if args.baseline_messages:
            broker = Mosquitto().start()
            base = baseline(conn, broker, db_url, args.baseline_messages, args.publishers, devices)
            summary["baseline"] = base
            print(f"baseline_msg_per_s {base['msg_per_s']:.0f}")
            best = (
                max(
                    r["sustained_msg_per_s"] or r["peak"]["msg_per_s"]
                    for r in summary["runs"].values()
                )
                if summary["runs"]
                else 0
            )
            summary["ratio_vs_baseline"] = best / base["msg_per_s"]
            print(f"ratio_vs_baseline {summary['ratio_vs_baseline']:.1f}")
        conn.close()
    finally:
        if broker is not None:
            broker.close()
        database.close()
    print(json.dumps(summary, indent=None, default=str))


if __name__ == "__main__":
    main()
