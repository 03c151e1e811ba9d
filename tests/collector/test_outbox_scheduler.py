"""The outbox's bounds and numbering, and the scheduler's isolation of bad checks."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import ClassVar

from collector.checks.base import Check, CheckError, CheckParams, Sample, Target
from collector.outbox import Outbox
from collector.scheduler import Scheduler


def test_seq_survives_reopen_and_rows_stay_until_removed(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    ids = [
        box.add("cam", "21025", "telemetry", {"ts": 1, "metrics": {"online": True}})
        for _ in range(3)
    ]
    box.remove(ids[:1])
    box.close()
    box = Outbox(tmp_path / "o.sqlite")  # as after a crash: the file is the truth
    assert box.depth == 2
    box.add("cam", "21025", "event", {"ts": 2, "type": "reboot"})
    seqs = [json.loads(r.body)["seq"] for r in box.after(0, 2**62, 10)]
    assert seqs == [1, 2, 3]
    assert box.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_full_outbox_drops_oldest_telemetry_before_events(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_bytes=100_000)
    box.add("cam", "21025", "event", {"ts": 0, "type": "tamper", "severity": "critical"})
    for i in range(2_000):
        box.add("cam", "21025", "telemetry", {"ts": i, "metrics": {"fps": 24.5, "online": True}})
    assert box.bytes <= 100_000
    rows = box.after(0, 2**62, 100_000)
    assert rows[0].channel == "event"  # the event outlived older telemetry
    first_ts = json.loads(rows[1].body)["ts"]
    assert first_ts > 0 and json.loads(rows[-1].body)["ts"] == 1_999  # oldest readings gone
    dropped = box.counter("dropped")
    assert dropped == box.dropped_pending and dropped + len(rows) == 2_001
    size = sum(len(r.body) + 64 for r in rows)
    assert size == box.bytes


def test_age_bound(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_age_s=60)
    box.add("cam", "21025", "telemetry", {"ts": 1, "metrics": {"online": True}})
    box.db.execute("UPDATE outbox SET created = ?", (time.time() - 120,))
    box.add("cam", "21025", "telemetry", {"ts": 2, "metrics": {"online": True}})
    assert box.expire() == 1 and box.depth == 1 and box.counter("dropped") == 1


class _Fake(Check):
    name: ClassVar[str] = "fake"

    def __init__(self, device: str, behaviour: str) -> None:
        super().__init__(
            Target(device, "camera", "21025", "127.0.0.1", 0.2), CheckParams(), lambda n: ""
        )
        self.behaviour = behaviour
        self.calls = 0

    async def poll(self) -> Sample:
        self.calls += 1
        if self.behaviour == "hang":
            await asyncio.sleep(3600)
        if self.behaviour == "bug":
            raise ZeroDivisionError("division by zero")
        if self.behaviour == "flaky" and self.calls <= 3:
            raise CheckError("HTTP 401: credentials refused", kind="auth")
        return Sample(metrics={"online": True})


def test_a_hanging_or_buggy_check_costs_only_itself() -> None:
    checks = {b: _Fake(f"dev-{b}", b) for b in ("ok", "hang", "bug", "flaky")}
    recorded: list[tuple[str, Sample]] = []
    scheduler = Scheduler(
        list(checks.values()), lambda c, s: recorded.append((c.target.device_id, s)), jitter=0
    )

    async def run() -> None:
        task = asyncio.create_task(scheduler.run())
        await asyncio.sleep(2.0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())
    assert checks["ok"].calls >= 6  # kept its rhythm next to the others
    events = [(d, e.type, e.data.get("kind")) for d, s in recorded for e in s.events]
    # One check_error per change of state, not one per failed poll.
    assert events.count(("dev-hang", "check_error", "timeout")) == 1
    assert events.count(("dev-bug", "check_error", "internal")) == 1
    assert events.count(("dev-flaky", "check_error", "auth")) == 1
    assert ("dev-flaky", "check_recovered", None) in events
    assert scheduler.health.errors.keys() == {("dev-hang", "fake"), ("dev-bug", "fake")}
    assert scheduler.health.lag_p99() < 0.5


def test_sqlite_file_is_readable_by_others_while_open(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.add("cam", "21025", "telemetry", {"ts": 1, "metrics": {"online": True}})
    with sqlite3.connect(tmp_path / "o.sqlite") as other:
        assert other.execute("SELECT count(*) FROM outbox").fetchone() == (1,)
