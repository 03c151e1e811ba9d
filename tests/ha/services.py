"""The product's processes on the HA cluster: `ioc alerts` and `ioc api` as subprocesses, plus
probes that record what a client sees during a failover (API answers, stored-row progress)."""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time
from pathlib import Path

import httpx
import psycopg

from ioc.ports import free_port
from tests.ha.conftest import IOC, Ha
from tests.util import wait_until

STORM_DEVICES = [f"ha-nvr-{i:02d}" for i in range(1, 13)]
STORM_RULES = """
rules:
  - {name: storm_cpu, kind: threshold, types: [nvr], metric: cpu_pct, op: ">", value: 90,
     clear: 80, severity: critical}
"""


def storm_registry(commune: str) -> str:
    """Registry lines of the storm's NVRs (appended to the stream's registry)."""
    return "\n".join(
        f'  - {{id: {d}, type: nvr, commune: "{commune}", name: "Đầu ghi {d}"}}'
        for d in STORM_DEVICES
    )


def routes(url: str) -> dict[str, object]:
    """One webhook receiver; a group per device, so the storm is many messages."""
    return {
        "defaults": {
            "group_by": ["device"],
            "group_wait": "0.5s",
            "group_interval": "1s",
            "critical_interval": "0s",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "ops", "webhook": {"url": url, "timeout": "2s"}}],
        "routes": [{"receiver": "ops"}],
    }


class Proc:
    """An `ioc` subprocess logging into the cluster directory."""

    def __init__(self, ha: Ha, name: str, args: list[str], env: dict[str, str]) -> None:
        self.log = ha.dir / f"{name}.log"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*IOC, *args], env=ha.env(**env), stdout=out, stderr=subprocess.STDOUT
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_alerts(ha: Ha, mqtt_url: str, work: Path, hook_url: str) -> Proc:
    """`ioc alerts` with the storm rule, the webhook routes and test-sized rhythm."""
    (work / "rules.yaml").write_text(STORM_RULES)
    (work / "routes.yaml").write_text(json.dumps(routes(hook_url)))
    env = {
        "IOC_MQTT_URL": mqtt_url,
        "IOC_RULES": str(work / "rules.yaml"),
        "IOC_ALERTS_CONFIG": str(work / "routes.yaml"),
        "IOC_ALERTS_EVALUATION_INTERVAL_S": "0.5",
        "IOC_ALERTS_DELIVER_INTERVAL_S": "0.3",
        "IOC_ALERTS_LEADER_RETRY_S": "0.5",
        "IOC_ALERTS_PIPELINE_HEARTBEAT_S": "0",
        "IOC_ALERTS_PIPELINE_SILENCE_S": "0",
        "IOC_ALERTS_WATCH_INGEST": "false",
        "IOC_ALERTS_PARENT_HOLD_S": "0",
        "IOC_NOTIFY_BACKOFF_BASE_S": "0.5",
        "IOC_NOTIFY_BACKOFF_MAX_S": "2",
    }
    return Proc(ha, "alerts", ["alerts"], env)


class ApiProbe:
    """`ioc api` plus a thread asking it for the device list every 0.2 s: (time, status)."""

    def __init__(self, ha: Ha, mqtt_url: str) -> None:
        out = ha.ioc("users", "create", "ha-probe", "--role", "admin")
        assert out.returncode == 0, out.stderr
        token = out.stdout.strip().splitlines()[-1].split()[-1]
        self.port = free_port()
        env = {"IOC_MQTT_URL": mqtt_url, "IOC_API_PORT": str(self.port)}
        self.proc = Proc(ha, "api", ["api"], env | {"IOC_DB_POOL_TIMEOUT_S": "3"})
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=15,
        )
        wait_until(self._ok, 60, 0.2, message="ioc api answers")
        self.answers: list[tuple[float, int, str]] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _ok(self) -> bool:
        try:
            return self.client.get("/api/v1/devices").status_code == 200
        except httpx.HTTPError:
            return False

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                r = self.client.get("/api/v1/devices")
                self.answers.append(
                    (time.monotonic(), r.status_code, r.headers.get("Retry-After", ""))
                )
            except httpx.HTTPError as exc:
                self.answers.append((time.monotonic(), 0, type(exc).__name__))

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.client.close()
        self.proc.close()


class Progress:
    """Samples the stored telemetry count every 0.1 s through the multi-host URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        conn: psycopg.Connection | None = None
        while not self._stop.wait(0.1):
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.url, autocommit=True, connect_timeout=2)
                row = conn.execute("SELECT count(*) FROM telemetry_points").fetchone()
                self.samples.append((time.monotonic(), int(row[0]) if row else 0))
            except psycopg.Error:
                if conn is not None:
                    conn.close()
                conn = None

    def longest_pause(self, start: float, end: float) -> float:
        """Longest time between two increases of the count within [start, end]."""
        changes = [start]
        last = None
        for t, n in self.samples:
            if last is not None and n > last and start <= t <= end:
                changes.append(t)
            last = n
        return max((b - a for a, b in itertools.pairwise(changes)), default=0.0)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
