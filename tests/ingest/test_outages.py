"""Faults: the database going away mid-stream, and the ingest process killed with SIGKILL."""

from __future__ import annotations

import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ingest.service import IngestService
from ioc.contract import ingest_status_topic as status_topic
from tests.ingest.conftest import (
    REGISTRY,
    Publisher,
    count,
    import_yaml,
    iso,
    now_minus,
    test_settings,
)
from tests.plugins.broker import Mosquitto
from tests.plugins.pgcluster import PgCluster
from tests.util import wait_until

log = logging.getLogger(__name__)


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    """A PostgreSQL cluster of this test's own, migrated, with the small registry."""
    pg = PgCluster().init()
    import_yaml(pg.url, REGISTRY)
    yield pg
    pg.close()


def stream(pub: Publisher, n: int, sent: list[int], start_age_s: float = 600) -> None:
    """Publish ``n`` QoS 1 readings with distinct timestamps, recording each broker-acked seq."""
    base = now_minus(start_age_s)
    for seq in range(n):
        ts = base + timedelta(milliseconds=10 * seq)
        info = pub.send(
            pub.topic("ts-cam-01"),
            {"ts": iso(ts), "seq": seq, "metrics": {"fps": 20, "cpu_pct": seq % 100}},
        )
        info.wait_for_publish(timeout=30)
        if info.is_published():
            sent.append(seq)


def test_database_outage_loses_and_duplicates_nothing(cluster: PgCluster, mqtt_url: str) -> None:
    n = 1500
    settings, ingest = test_settings(cluster.url, mqtt_url, batch_size=50, retry_max_s=0.3)
    sent: list[int] = []
    with IngestService(settings, ingest) as service:
        wait_until(service.consumer.connected.is_set, 10, message="connected")
        pub = Publisher(mqtt_url, ingest.topic_prefix)
        publisher = threading.Thread(target=stream, args=(pub, n, sent))
        publisher.start()
        wait_until(lambda: service.stats.snapshot()["written_rows"] > 0, 10, message="first rows")
        cluster.stop("fast")
        written_at_stop = service.stats.snapshot()["written_rows"]
        wait_until(lambda: len(sent) >= n // 2, 20, message="publishing continues during outage")
        cluster.start()
        publisher.join(60)
        pub.close()
        with psycopg.connect(cluster.url, autocommit=True) as db:
            wait_until(
                lambda: count(db, "SELECT count(*) FROM telemetry_points") >= 2 * n,
                60,
                message="every acknowledged message stored",
            )
            stored = count(db, "SELECT count(*) FROM telemetry_points")
            distinct = count(db, "SELECT count(DISTINCT time) FROM telemetry_points")
            quarantined = count(db, "SELECT count(*) FROM quarantine")
        stats = service.stats.snapshot()
    log.info(
        "db outage: sent=%d acked-by-broker=%d stored-rows=%d distinct-messages=%d "
        "rows-before-stop=%d duplicates-skipped=%s quarantined=%d",
        n,
        len(sent),
        stored,
        distinct,
        written_at_stop,
        stats["duplicates"],
        quarantined,
    )
    assert len(sent) == n
    assert stored == 2 * n and distinct == n, "zero loss, zero duplicates"
    assert quarantined == 0


def retained_status(broker: Mosquitto, instance: str) -> str | None:
    """The retained birth/last-will payload of an ingest instance (None if none within 1 s)."""
    got: queue.SimpleQueue[str] = queue.SimpleQueue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *_: c.subscribe(status_topic(instance), qos=1)
    client.on_message = lambda _c, _u, msg: got.put(msg.payload.decode()) if msg.retain else None
    client.connect("127.0.0.1", broker.port, 5)
    client.loop_start()
    try:
        return got.get(timeout=1.0)
    except queue.Empty:
        return None
    finally:
        client.disconnect()
        client.loop_stop()


def _ingest_process(
    db_url: str, broker: Mosquitto, prefix: str, instance: str, log_path: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "IOC_DATABASE_URL": db_url,
        "IOC_MQTT_URL": broker.url,
        "IOC_INGEST_INSTANCE": instance,
        "IOC_INGEST_GROUP": "kill",
        "IOC_INGEST_TOPIC_PREFIX": prefix,
        "IOC_INGEST_BATCH_SIZE": "200",
        "IOC_INGEST_HEARTBEAT_S": "0.5",
    }
    cmd = [sys.executable, "-c", "from ioc.cli import main; main()", "ingest", "--workers", "1"]
    with log_path.open("a") as out:  # kept in the test's tmp_path for a failure's post-mortem
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=out)


def test_sigkill_mid_stream_loses_and_duplicates_nothing(
    registry: str, own_broker: Mosquitto, db: psycopg.Connection, tmp_path: Path
) -> None:
    n = 4000
    prefix = "kill/ioc/v1"
    proc = _ingest_process(registry, own_broker, prefix, "killme", tmp_path / "ingest.log")
    sent: list[int] = []
    try:
        # The retained birth `online` follows the subscription: from then on nothing published
        # is refused with "No matching subscribers" (the heartbeat row comes earlier).
        wait_until(lambda: retained_status(own_broker, "killme") == "online", 20, message="up")
        pub = Publisher(own_broker.url, prefix)
        publisher = threading.Thread(target=stream, args=(pub, n, sent))
        publisher.start()
        wait_until(
            lambda: count(db, "SELECT count(*) FROM telemetry_points") > 200,
            30,
            message="rows flowing",
        )
        proc.kill()
        proc.wait(10)
        at_kill = count(db, "SELECT count(*) FROM telemetry_points") // 2
        proc = _ingest_process(registry, own_broker, prefix, "killme", tmp_path / "ingest.log")
        publisher.join(60)
        pub.close()
        assert len(sent) == n, f"the broker acknowledged {len(sent)} of {n} messages"
        wait_until(
            lambda: count(db, "SELECT count(*) FROM telemetry_points") >= 2 * n,
            60,
            message=f"every acknowledged message stored after restart (log: {tmp_path})",
        )
        stored = count(db, "SELECT count(*) FROM telemetry_points")
        distinct = count(db, "SELECT count(DISTINCT time) FROM telemetry_points")
        dups = wait_until(
            lambda: db.execute(
                "SELECT duplicates FROM ingest_instances WHERE instance = 'killme'"
                " AND written_rows + duplicates >= 2"
            ).fetchone(),
            10,
            message="restarted instance heartbeat",
        )
        assert dups is not None
    finally:
        proc.terminate()
        proc.wait(10)
    log.info(
        "sigkill: sent=%d acked-by-broker=%d stored-at-kill=%d stored-messages=%d stored-rows=%d "
        "redelivered-duplicate-rows-skipped=%d",
        n,
        len(sent),
        at_kill,
        distinct,
        stored,
        dups[0],
    )
    assert len(sent) == n
    assert stored == 2 * n and distinct == n, "zero loss, zero duplicates"
    assert count(db, "SELECT count(*) FROM quarantine") == 0
