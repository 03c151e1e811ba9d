"""A shipped drill on the bus: devices' births, wills and retained status through NATS, ingest
pulling from JetStream, the alert engine judging (scenarios/uplink_cut.yaml, sped up)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
from click.testing import CliRunner

from ioc.bus.local import LocalCluster
from simulators.checks import engine_running
from simulators.cli import drill
from tests.util import wait_until

REPO = Path(__file__).resolve().parents[2]


def test_uplink_cut_drill_passes_on_the_bus(bus: LocalCluster, db_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        **bus.env(),
        "IOC_DATABASE_URL": db_url,
        "IOC_SIM_DRILL_POLL_S": "0.5",
        "IOC_INGEST_BATCH_MAX_WAIT_S": "0.05",
    }
    procs = []
    for command in (["ingest", "--workers", "1"], ["alerts"]):
        log = (tmp_path / f"{command[0]}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "ioc", *command], env=env, stdout=log, stderr=log
            )
        )
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            wait_until(lambda: engine_running(conn), 60, message="an alert engine leader")
        result = CliRunner().invoke(
            drill, [str(REPO / "scenarios" / "uplink_cut.yaml"), "--speed", "20"], env=env
        )
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    print(result.output)
    assert result.exit_code == 0, result.output
    assert "6/6 expectations met" in result.output
