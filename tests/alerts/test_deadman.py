"""The dead man's switch: pings from the leader only, /start then alive or /fail, and a dead or
slow receiver never holds up an evaluation (the end-to-end test with the engine process and a
receiver that notices the silence: tests/deploy/test_stack.py)."""

from __future__ import annotations

import time
from datetime import datetime

import psycopg

from alerts.deadman import Heartbeat
from ioc.ports import free_port
from tests.alerts.conftest import EngineFactory
from tests.deploy.receiver import Receiver


def test_unreachable_receivers_are_logged_not_raised() -> None:
    beat = Heartbeat([f"http://127.0.0.1:{free_port()}/ping/x", ""], timeout_s=0.5)
    assert beat.urls and len(beat.urls) == 1  # empty second URL: off
    started = time.monotonic()
    beat.ping()
    assert beat.failed == 1 and beat.sent == 0
    assert time.monotonic() - started < 2
    beat.close()
    assert not Heartbeat(["", ""], 1)  # nothing configured: no job at all


def test_leader_sends_start_then_alive_then_fail_and_standbys_stay_quiet(
    make_engine: EngineFactory, fleet: psycopg.Connection, t0: datetime
) -> None:
    receiver = Receiver(grace_s=60)
    try:
        leader = make_engine(heartbeat_url=receiver.url)
        standby = make_engine(heartbeat_url=receiver.url)
        assert leader.tick() and not standby.tick()
        standby._beat()
        assert receiver.signals() == []
        leader._beat()
        leader._beat()
        assert receiver.signals() == ["start", "ok", "ok"]
        leader.tick_failed = True  # as after an evaluation that raised
        leader._beat()
        assert receiver.signals()[-1] == "fail"
        assert receiver.down()  # a /fail is not a sign of life
    finally:
        receiver.close()
