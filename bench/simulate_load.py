"""Benchmark ``ioc simulate``: CPU and memory of a large fleet at real report rates.

Starts a throwaway Mosquitto on a free loopback port (never the machine's own), runs
``ioc simulate --communes N`` against it for a while, samples the simulator's CPU % and RSS
from /proc, and prints one figure per line plus a JSON summary.

    .venv/bin/python bench/simulate_load.py --communes 100 --seconds 120
    .venv/bin/python bench/simulate_load.py --communes 10 --seconds 30 --rate 2000
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ioc.ports import free_port, wait_listening

REPO = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 1e6


def start_broker(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_inflight_messages 1000\nmax_queued_messages 1000000\n"
        f"log_dest file {workdir}/mosquitto.log\n"
    )
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_listening(port, 5.0)  # 100 tries, 0.05 s apart
    except TimeoutError:
        raise RuntimeError("mosquitto did not start") from None
    return proc, port


def expected_rate(communes: int) -> float:
    """Steady messages/s of the generated fleet at the catalogue report intervals."""
    sys.path.insert(0, str(REPO))
    from devices.catalogue import TYPES
    from simulators.generate import generate

    registry = generate(communes)
    return sum(1 / TYPES[d.type].interval_s for d in registry.devices), len(registry.devices)  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--communes", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=120.0, help="measured run length")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds ignored at the start")
    parser.add_argument("--rate", type=float, help="load mode: target msg/s")
    parser.add_argument("--connections", default="auto", choices=["auto", "device", "site"])
    args = parser.parse_args()
    steady, devices = expected_rate(args.communes)
    workdir = Path(tempfile.mkdtemp(prefix="ioc-bench-sim-"))
    broker, port = start_broker(workdir)
    env = {**os.environ, "IOC_MQTT_URL": f"mqtt://127.0.0.1:{port}", "IOC_SIM_PROGRESS_S": "5"}
    cmd = [str(REPO / ".venv" / "bin" / "ioc"), "simulate", "--communes", str(args.communes),
           "--no-register", "--seed", "1", "--duration", f"{args.warmup + args.seconds}s",
           "--connections", args.connections, "--json"]  # fmt: skip
    if args.rate:
        cmd += ["--rate", str(args.rate)]
    started = time.time()
    sim = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(args.warmup)
        cpu0, bcpu0, t0 = cpu_seconds(sim.pid), cpu_seconds(broker.pid), time.time()
        peak = 0.0
        while sim.poll() is None and time.time() - t0 < args.seconds - 1:
            peak = max(peak, rss_mb(sim.pid))
            time.sleep(1)
        cpu1, bcpu1, t1 = cpu_seconds(sim.pid), cpu_seconds(broker.pid), time.time()
        out, err = sim.communicate(timeout=120)
    finally:
        if sim.poll() is None:
            sim.kill()
        broker.terminate()
        broker.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
    summary_line = [line for line in out.splitlines() if line.startswith("{")]
    final = json.loads(summary_line[-1]) if summary_line else {}
    lags = [float(m) for m in re.findall(r"lag ([0-9.]+)s", err)]
    rates = [float(m) for m in re.findall(r"rate ([0-9.]+) msg/s", err)]
    skip = int(len(rates) * args.warmup / (args.warmup + args.seconds)) + 1  # warm-up lines
    steady_rates = rates[skip:] or rates
    result = {
        "communes": args.communes,
        "devices": devices,
        "connections": args.connections,
        "target_rate_msg_s": args.rate or round(steady, 1),
        "achieved_rate_msg_s": round(sum(steady_rates) / max(1, len(steady_rates)), 1),
        "sent": final.get("sent"),
        "acked": final.get("acked"),
        "unacked_at_exit": final.get("unacked"),
        "sim_cpu_pct": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
        "sim_rss_peak_mb": round(peak, 1),
        "broker_cpu_pct": round(100 * (bcpu1 - bcpu0) / (t1 - t0), 1),
        "max_lag_s": max(lags[skip:] or lags or [0.0]),  # after warm-up (connecting)
        "wall_s": round(time.time() - started, 1),
    }
    for key, value in result.items():
        print(f"{key}: {value}")
    print(json.dumps(result))
    if sim.returncode not in (0, None):
        print(err[-2000:], file=sys.stderr)


if __name__ == "__main__":
    main()
