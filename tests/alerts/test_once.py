"""``ioc alerts --once`` is a dry run unless ``--write``, which the running leader refuses
(issue 23, class 7)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from alerts.cli import command
from alerts.leader import LeaderLock
from tests.alerts.conftest import BEHIND_UPLINK, metric, report_all

RULES = """
rules:
  - {name: cpu_high, kind: threshold, types: [camera], metric: cpu_pct, op: ">", value: 90,
     severity: warning}
"""
WATCHED = ("alerts", "alert_history", "device_reachability", "device_reachability_changes")


def _snapshot(db: psycopg.Connection) -> dict[str, Any]:
    return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in WATCHED}


@pytest.fixture
def lock_key() -> int:
    return random.randint(10**9, 2 * 10**9)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path, lock_key: int) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    for name, value in {
        "IOC_DATABASE_URL": db_url,
        "IOC_RULES": str(rules),
        "IOC_ALERTS_PIPELINE_SILENCE_S": "0",
        "IOC_ALERTS_PIPELINE_HEARTBEAT_S": "0",
        "IOC_ALERTS_WATCH_INGEST": "false",
        "IOC_ALERTS_LEADER_LOCK_KEY": str(lock_key),
    }.items():
        monkeypatch.setenv(name, value)


def test_once_is_a_dry_run_and_write_waits_for_no_leader(
    fleet: psycopg.Connection, cli_env: None, db_url: str, lock_key: int
) -> None:
    now = datetime.now(UTC)
    report_all(fleet, now)
    rng = random.Random()
    hot = rng.sample([d for d in BEHIND_UPLINK if d.startswith("cam")], rng.randint(2, 8))
    for device in hot:
        metric(fleet, device, "cpu_pct", rng.uniform(90.5, 100), now)
    before = _snapshot(fleet)

    dry = CliRunner().invoke(command, ["--once"], catch_exceptions=False)
    assert dry.exit_code == 0, dry.output
    assert dry.output.count("would be firing: cpu_high") == len(hot)
    assert "nothing written" in dry.output
    assert _snapshot(fleet) == before

    leader = LeaderLock(db_url, lock_key, retry_s=0.1)
    assert leader.ensure()
    try:
        refused = CliRunner().invoke(command, ["--once", "--write"])
        assert refused.exit_code == 1
        assert "another ioc alerts is active" in refused.output
        assert _snapshot(fleet) == before
    finally:
        leader.release()

    written = CliRunner().invoke(command, ["--once", "--write"], catch_exceptions=False)
    assert written.exit_code == 0, written.output
    rows = fleet.execute("SELECT device_id, state FROM alerts ORDER BY device_id").fetchall()
    assert rows == [(d, "firing") for d in sorted(hot)]
