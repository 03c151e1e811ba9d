"""Edge collector figures: polling load on one core, and a broker outage's replay.

    python bench/collector.py load --devices 1000 --duration 150
    python bench/collector.py outage --devices 100 --interval 5 --outage 60

``load``: ``ioc collector run`` (pinned to one core with taskset when available) polls
``--devices`` devices on 127.0.x.y, each with ping plus one SNMP (IF-MIB from Debian's snmpd)
or HTTP JSON poll (a fake vendor platform) per interval; prints CPU % of that core, RSS and the
poll lag p99 the collector reports. ``outage``: the broker stops for ``--outage`` seconds and
comes back; prints replay time, readings lost, duplicates, and how late live readings arrive
during the replay. Everything runs on loopback with a private mosquitto and snmpd.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.collector.conftest import COMMUNITY, start_snmpd
from tests.collector.harness import CollectorProcess
from tests.collector.vendor import TOKEN, VendorPlatform
from tests.plugins.broker import Mosquitto

SPEAKER_MAP = "{rsrp_dbm: {path: lte.rsrp}, volume: {path: player.volume}}"


def address(i: int) -> str:
    """A distinct loopback address per device."""
    return f"127.0.{2 + i // 250}.{1 + i % 250}"


def inventory(devices: int, interval: int, snmp_port: int | None, vendor: str | None) -> str:
    lines = [
        "communes:",
        '  - {code: "21025", name: "Xã Tịnh Sơn"}',
        "devices:",
        '  - {id: col-1, type: collector, commune: "21025", interval_s: 10}',
    ]
    for i in range(devices):
        checks = "ping: {count: 3, spacing_s: 0.2}"
        if snmp_port and (vendor is None or i % 2 == 0):
            kind = "link"
            checks += f", snmp: {{port: {snmp_port}, community_env: SNMP_COMMUNITY}}"
        elif vendor:
            kind = "speaker"
            checks += (
                f', http_json: {{url: "{vendor}/api/clusters/{i % 50}", '
                f"auth: {{type: bearer, token_env: VENDOR_TOKEN}}, metrics: {SPEAKER_MAP}}}"
            )
        else:
            kind = "camera"
        # snmpd listens on 127.0.0.1 only; ICMP goes to a distinct address per device.
        where = "127.0.0.1" if kind == "link" else address(i)
        lines.append(
            f'  - {{id: d{i:04d}, type: {kind}, commune: "21025", address: {where}, '
            f"collector: col-1, interval_s: {interval}, checks: {{{checks}}}}}"
        )
    return "\n".join(lines) + "\n"


class Subscriber:
    """A persistent-session QoS 1 subscriber counting (device, seq) and live delays."""

    def __init__(self, port: int) -> None:
        self.seen: dict[tuple[str, int], int] = defaultdict(int)
        self.live_delays: list[tuple[float, float]] = []  # (arrival, delay s)
        self.heartbeat: dict[str, float] = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id="bench-sub",
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        self.client.on_connect = lambda c, *_: c.subscribe("ioc/v1/+/+/+", qos=1)
        self.client.on_message = self._message
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        device = msg.topic.split("/")[3]
        if msg.topic.endswith("/status"):
            return
        body = json.loads(msg.payload)
        now = time.time()
        with self.lock:
            if "readings" in body:
                for r in body["readings"]:
                    self.seen[(device, r["seq"])] += 1
            else:
                self.seen[(device, body["seq"])] += 1
                self.live_delays.append((now, now - body["ts"] / 1000))
                if device == "col-1" and "metrics" in body:
                    self.heartbeat = body["metrics"]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def load(args: argparse.Namespace) -> dict[str, Any]:
    broker = Mosquitto().start()
    agent = start_snmpd()
    work = Path(tempfile.mkdtemp(prefix="ioc-bench-col-"))
    sub = Subscriber(broker.port)
    try:
        with VendorPlatform() as vendor:
            text = inventory(args.devices, args.interval, agent.port, vendor.url)
            proc = CollectorProcess(
                work,
                text,
                broker.url,
                snmp_community=COMMUNITY,
                vendor_token=TOKEN,
                ioc_collector_heartbeat_s=10,
                ioc_log_level="WARNING",
            )
            proc.start()
            assert proc.proc is not None
            pid = proc.proc.pid
            if shutil.which("taskset"):
                os.system(f"taskset -pc 0 {pid} >/dev/null")
            time.sleep(args.interval)  # first round: polls spread over one interval
            c0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(args.duration - args.interval)
            c1, t1 = cpu_seconds(pid), time.monotonic()
            rss = rss_mb(pid)
            beat = dict(sub.heartbeat)
            messages = len(sub.seen)
            stop_at = time.monotonic()
            try:
                proc.stop()
            except Exception:
                proc.stop(kill=True)
            stop_s = time.monotonic() - stop_at
            failures: dict[str, int] = defaultdict(int)
            for line in proc.log_text().splitlines():
                found = re.search(r"check (\w+) failed \((\w+)\): (.{0,60})", line)
                if found:
                    failures[" ".join(found.groups())] += 1
    finally:
        sub.close()
        agent.proc.terminate()
        broker.close()
        shutil.rmtree(work, ignore_errors=True)
    return {
        "devices": args.devices,
        "interval_s": args.interval,
        "measured_s": round(t1 - t0, 1),
        "cpu_pct_of_one_core": round(100 * (c1 - c0) / (t1 - t0), 1),
        "rss_mb": round(rss, 1),
        "poll_lag_p99_s": beat.get("poll_lag_s"),
        "devices_polled": beat.get("devices_polled"),
        "checks_failing": beat.get("checks_failing"),
        "messages_received": messages,
        "sigterm_to_exit_s": round(stop_s, 1),
        "failure_kinds": dict(sorted(failures.items(), key=lambda kv: -kv[1])[:5]),
    }


def outage(args: argparse.Namespace) -> dict[str, Any]:
    broker = Mosquitto().start()
    work = Path(tempfile.mkdtemp(prefix="ioc-bench-col-"))
    sub = Subscriber(broker.port)
    text = inventory(args.devices, args.interval, None, None)
    proc = CollectorProcess(
        work,
        text,
        broker.url,
        ioc_collector_heartbeat_s=10,
        ioc_log_level="WARNING",
        ioc_collector_replay_rate=args.replay_rate,
    )
    try:
        proc.start()
        time.sleep(args.interval * 2)
        broker.stop()  # graceful: the subscriber's session is saved
        time.sleep(args.outage)
        buffered = proc.depth()
        broker.start()
        back = time.monotonic()
        back_wall = time.time()
        while proc.depth() > args.devices and time.monotonic() - back < 600:
            time.sleep(0.05)  # the backlog is out when only live rows remain
        replay_s = time.monotonic() - back
        time.sleep(args.interval * 2)
        proc.stop()
        time.sleep(1)
        produced = proc.produced()
        left = dict(proc.rows("SELECT device_id, count(*) FROM outbox GROUP BY device_id"))
    finally:
        sub.close()
        broker.close()
    expected = {(d, s) for d, n in produced.items() for s in range(n)}
    got = set(sub.seen)
    buffered_left = sum(left.values())
    shutil.rmtree(work, ignore_errors=True)
    during = [d for t, d in sub.live_delays if back_wall <= t <= back_wall + replay_s + 1]
    during.sort()
    return {
        "devices": args.devices,
        "interval_s": args.interval,
        "outage_s": args.outage,
        "buffered_at_return": buffered,
        "replay_s": round(replay_s, 2),
        "produced": len(expected),
        "lost": len(expected - got) - buffered_left,
        "still_buffered_at_exit": buffered_left,
        "duplicates_at_subscriber": sum(n - 1 for n in sub.seen.values() if n > 1),
        "live_delay_p99_during_replay_s": round(during[int(len(during) * 0.99) - 1], 3)
        if during
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("load")
    p.add_argument("--devices", type=int, default=1000)
    p.add_argument("--interval", type=int, default=60)
    p.add_argument("--duration", type=float, default=150)
    p = sub.add_parser("outage")
    p.add_argument("--devices", type=int, default=100)
    p.add_argument("--interval", type=int, default=60)
    p.add_argument("--outage", type=float, default=600)
    p.add_argument("--replay-rate", type=float, default=20)
    args = parser.parse_args()
    result = load(args) if args.what == "load" else outage(args)
    for key, value in result.items():
        print(f"{key:34} {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
