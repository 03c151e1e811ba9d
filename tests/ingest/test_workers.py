"""`ioc ingest --workers N`: workers share the subscription, are restarted, die with the supervisor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import psycopg

from tests.ingest.conftest import Publisher, count, iso, now_minus
from tests.plugins.broker import Mosquitto
from tests.util import wait_until


def children(pid: int) -> list[int]:
    """Direct child pids of ``pid`` (Linux /proc)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_supervisor_restarts_workers_and_takes_them_down(
    registry: str, own_broker: Mosquitto, db: psycopg.Connection
) -> None:
    prefix = "workers/ioc/v1"
    env = {
        **os.environ,
        "IOC_DATABASE_URL": registry,
        "IOC_MQTT_URL": own_broker.url,
        "IOC_INGEST_INSTANCE": "sup",
        "IOC_INGEST_TOPIC_PREFIX": prefix,
        "IOC_INGEST_HEARTBEAT_S": "0.3",
    }
    cmd = [sys.executable, "-c", "from ioc.cli import main; main()", "ingest", "--workers", "2"]
    sup = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        wait_until(
            lambda: (
                count(db, "SELECT count(*) FROM ingest_instances WHERE instance LIKE 'sup-w%'") == 2
            ),
            30,
            message="two workers heartbeating",
        )
        pub = Publisher(own_broker.url, prefix)
        base = now_minus(300)
        pub.send_all(
            [
                (
                    pub.topic("ts-cam-01"),
                    {"ts": iso(base + timedelta(seconds=i)), "seq": i, "metrics": {"fps": 1}},
                )
                for i in range(400)
            ]
        )
        pub.close()
        wait_until(
            lambda: count(db, "SELECT count(*) FROM telemetry_points") == 400,
            20,
            message="400 rows",
        )
        # both workers took a share of the shared subscription
        shares = db.execute(
            "SELECT instance, received FROM ingest_instances WHERE instance LIKE 'sup-w%'"
        ).fetchall()
        wait_until(
            lambda: (
                count(
                    db,
                    "SELECT count(*) FROM ingest_instances WHERE instance LIKE 'sup-w%' AND received > 0",
                )
                == 2
            ),
            10,
            message=f"both workers received messages ({shares})",
        )
        workers = wait_until(lambda: children(sup.pid), 5, message="worker pids")
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        wait_until(
            lambda: len(children(sup.pid)) == 2 and workers[0] not in children(sup.pid),
            15,
            message="dead worker restarted",
        )
        workers = children(sup.pid)
        sup.kill()  # the supervisor dies without cleaning up: workers must follow
        sup.wait(10)
        wait_until(lambda: not any(alive(w) for w in workers), 15, message="orphan workers exit")
    finally:
        if sup.poll() is None:
            sup.terminate()
            sup.wait(10)
        for w in workers:
            if alive(w):
                os.kill(w, signal.SIGKILL)
