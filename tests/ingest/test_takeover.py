"""Departed shared-subscription members: their queued share is drained and their session ended."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import psycopg
from click.testing import CliRunner

from ingest.service import IngestService
from ioc.cli import cli
from tests.ingest.conftest import Publisher, count, iso, now_minus, test_settings
from tests.plugins.broker import Mosquitto
from tests.util import wait_until

FAST = {
    "takeover_after_s": 1.0,
    "takeover_check_s": 0.3,
    "drain_quiet_s": 0.5,
    "heartbeat_s": 0.2,
}


def readings(pub: Publisher, start: int, n: int) -> list[tuple[str, object]]:
    base = now_minus(3000)
    return [
        (
            pub.topic("ts-uplink"),
            {"ts": iso(base + timedelta(seconds=i)), "seq": i, "metrics": {"rtt_ms": i % 100}},
        )
        for i in range(start, start + n)
    ]


def rows(db: psycopg.Connection) -> int:
    return count(db, "SELECT count(*) FROM telemetry_points")


def test_a_departed_members_queue_is_recovered_and_its_session_ended(
    registry: str, own_broker: Mosquitto, db: psycopg.Connection
) -> None:
    core, gone = test_settings(registry, own_broker.url, **FAST)
    _, live = test_settings(
        registry, own_broker.url, group=gone.group, topic_prefix=gone.topic_prefix, **FAST
    )
    departed = IngestService(core, gone).start()
    wait_until(departed.consumer.connected.is_set, 10, message="departed member subscribed")
    departed.stop()  # its persistent session stays on the broker, in the group
    pub = Publisher(own_broker.url, gone.topic_prefix)
    try:
        pub.send_all(readings(pub, 0, 100))  # all queued for the departed member
        with IngestService(core, live) as service:
            wait_until(lambda: rows(db) == 100, 20, message="the departed member's queue written")
            wait_until(
                lambda: (
                    db.execute(
                        "SELECT retired_at IS NOT NULL FROM ingest_instances WHERE instance = %s",
                        (gone.instance,),
                    ).fetchone()
                    == (True,)
                ),
                10,
                message="the departed member retired",
            )
            # its session is gone: the live member now gets every message
            pub.send_all(readings(pub, 100, 100))
            wait_until(lambda: rows(db) == 200, 10, message="all new messages to the live one")
            assert service.stats.snapshot()["received"] == 200
    finally:
        pub.close()


def test_retire_command_drains_a_named_instance(
    registry: str, own_broker: Mosquitto, db: psycopg.Connection
) -> None:
    core, gone = test_settings(registry, own_broker.url, takeover_after_s=0)
    env = {
        "IOC_DATABASE_URL": registry,
        "IOC_MQTT_URL": own_broker.url,
        "IOC_INGEST_INSTANCE": "operator-laptop",
        "IOC_INGEST_GROUP": gone.group,
        "IOC_INGEST_TOPIC_PREFIX": gone.topic_prefix,
        "IOC_INGEST_DRAIN_QUIET_S": "0.5",
    }
    departed = IngestService(core, gone).start()
    wait_until(departed.consumer.connected.is_set, 10, message="member subscribed")
    running = CliRunner().invoke(cli, ["ingest", "retire", gone.instance], env=env)
    assert running.exit_code == 1 and "it is running" in running.output, running.output
    departed.stop()
    pub = Publisher(own_broker.url, gone.topic_prefix)
    try:
        pub.send_all(readings(pub, 0, 50))
    finally:
        pub.close()
    result = CliRunner().invoke(cli, ["ingest", "retire", gone.instance], env=env)
    assert result.exit_code == 0, result.output
    assert f"retired ingest instance {gone.instance}" in result.output
    assert rows(db) == 50


def _ingest(workers: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-c", "from ioc.cli import main; main()", "ingest"]
    out = log.open("ab")
    return subprocess.Popen([*cmd, "--workers", str(workers)], env=env, stdout=out, stderr=out)


def test_scale_from_two_workers_to_one_mid_stream_loses_nothing(
    registry: str, own_broker: Mosquitto, db: psycopg.Connection, tmp_path: Path
) -> None:
    prefix = "scale/ioc/v1"
    env = {
        **os.environ,
        "IOC_DATABASE_URL": registry,
        "IOC_MQTT_URL": own_broker.url,
        "IOC_INGEST_INSTANCE": "scale",
        "IOC_INGEST_TOPIC_PREFIX": prefix,
        "IOC_INGEST_HEARTBEAT_S": "0.2",
        "IOC_INGEST_TAKEOVER_AFTER_S": "1",
        "IOC_INGEST_TAKEOVER_CHECK_S": "0.3",
        "IOC_INGEST_DRAIN_QUIET_S": "0.5",
    }
    log = tmp_path / "ingest.log"
    proc = _ingest(2, env, log)
    pub = Publisher(own_broker.url, prefix)
    total = 600
    stop = threading.Event()

    def stream() -> None:
        for start in range(0, total, 20):
            pub.send_all(readings(pub, start, 20))
            stop.wait(0.05)

    sender = threading.Thread(target=stream)
    try:
        wait_until(
            lambda: count(db, "SELECT count(*) FROM ingest_instances WHERE received >= 0") == 2,
            30,
            message="two workers heartbeating",
        )
        sender.start()
        wait_until(lambda: rows(db) >= 100, 20, message="the stream flowing")
        proc.terminate()  # scale down: the supervisor stops, one worker comes back
        proc.wait(20)
        proc = _ingest(1, env, log)
        sender.join(60)
        wait_until(
            lambda: rows(db) == total,
            30,
            message=f"all {total} readings written (log: {log.read_text()[-2000:]})",
        )
        wait_until(  # scale-w0 and scale-w1, taken over by `scale`
            lambda: (
                count(db, "SELECT count(*) FROM ingest_instances WHERE retired_at IS NOT NULL") == 2
            ),
            15,
            message="both departed workers retired",
        )
    finally:
        stop.set()
        pub.close()
        if proc.poll() is None:
            proc.terminate()
            proc.wait(20)


def test_a_live_member_taken_for_departed_loses_nothing(
    registry: str, own_broker: Mosquitto, db: psycopg.Connection
) -> None:
    """A member alive on MQTT whose heartbeat stopped (its database link is down, say) may be
    taken over; it takes its session back on reconnecting and no message is lost either way."""
    core, quiet = test_settings(registry, own_broker.url, heartbeat_s=3600, takeover_after_s=0)
    _, live = test_settings(
        registry, own_broker.url, group=quiet.group, topic_prefix=quiet.topic_prefix, **FAST
    )
    pub = Publisher(own_broker.url, quiet.topic_prefix)
    with IngestService(core, quiet) as member_b, IngestService(core, live):
        wait_until(member_b.consumer.connected.is_set, 10, message="member B subscribed")
        for start in range(0, 400, 20):
            pub.send_all(readings(pub, start, 20))
            threading.Event().wait(0.05)
        wait_until(lambda: rows(db) == 400, 30, message="all 400 written despite the churn")
        wait_until(member_b.consumer.connected.is_set, 10, message="member B has its session")
    pub.close()
