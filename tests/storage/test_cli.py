"""`ioc maintain --once` and `ioc report availability` end to end on a real database."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from ioc.cli import cli
from tests.storage.conftest import metric_id, write_points


def test_maintain_once_then_report(
    db: psycopg.Connection,
    db_url: str,
    registry: dict[str, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IOC_DATABASE_URL", db_url)
    monkeypatch.setenv("IOC_REPORT_TIMEZONE", "UTC")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    fps = metric_id(db, "fps")
    write_points(
        db,
        [
            (now - timedelta(minutes=m), 20.0, key, fps)
            for m in range(1, 90)
            for key in registry.values()
        ],
    )
    runner = CliRunner()
    result = runner.invoke(cli, ["maintain", "--once"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "rollups: RefreshResult(skipped=False" in result.output
    state = db.execute("SELECT done FROM storage_rollup_state WHERE resolution = '5m'").fetchone()
    assert state is not None
    assert state[0] is not None
    assert state[0] > now - timedelta(minutes=10)
    rows = db.execute("SELECT count(*) FROM availability_daily WHERE online_s > 0").fetchone()
    assert rows is not None
    assert rows[0] >= len(registry)

    month = f"{now:%Y-%m}"
    out = runner.invoke(cli, ["report", "availability", "--commune", "21025", "--month", month])
    assert out.exit_code == 0, out.output
    table = list(csv.reader(io.StringIO(out.output.lstrip("\ufeff"))))
    assert table[0][0] == "Cấp"
    assert {r[1] for r in table[1:] if r[0] == "Thiết bị"} == set(registry)
    target = tmp_path / "bao-cao.xlsx"
    args = ["report", "availability", "--commune", "21025", "--month", month]
    out = runner.invoke(cli, [*args, "--format", "xlsx", "--output", str(target)])
    assert out.exit_code == 0, out.output
    assert target.read_bytes()[:2] == b"PK"
    bad = runner.invoke(cli, ["report", "availability", "--commune", "99999", "--month", month])
    assert bad.exit_code != 0
    assert "unknown commune" in bad.output


def test_maintain_runs_jobs_on_schedule_and_stops_on_sigterm(
    db: psycopg.Connection, db_url: str
) -> None:
    import os
    import signal
    import subprocess
    import sys

    from tests.util import wait_until

    env = {
        **os.environ,
        "IOC_DATABASE_URL": db_url,
        "IOC_ROLLUP_INTERVAL_S": "0.5",
        "IOC_AVAILABILITY_INTERVAL_S": "3600",
        "IOC_RETENTION_INTERVAL_S": "3600",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", "from ioc.cli import main; main()", "maintain"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        query = "SELECT refreshed_at FROM storage_rollup_state WHERE resolution = '5m'"
        first = wait_until(lambda: db.execute(query).fetchone()[0], timeout=60, message="first run")
        wait_until(
            lambda: db.execute(query).fetchone()[0] > first,
            timeout=30,
            message="a scheduled rollup run after the first",
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
