"""Round trip of every channel through a real broker into a real database."""

from __future__ import annotations

import json

import httpx
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.service import IngestService
from ioc.contract import ingest_status_topic as status_topic
from ioc.mqttclient import MqttTarget
from ioc.ports import free_port
from tests.ingest.conftest import Publisher, count, iso, now_minus, test_settings
from tests.util import wait_until


def test_telemetry_event_status_round_trip(
    service: IngestService, publisher: Publisher, db: psycopg.Connection
) -> None:
    ts = now_minus(5)
    publisher.send_all(
        [
            (
                publisher.topic("ts-cam-01"),
                {"ts": iso(ts), "seq": 1, "metrics": {"fps": 24.5, "stream_up": True, "online": 1}},
            ),
            (
                publisher.topic("ts-nvr-01"),
                {
                    "ts": int(ts.timestamp() * 1000),
                    "seq": 7,
                    "metrics": {"disk_status": "abnormal"},
                },
            ),
            (
                publisher.topic("ts-spk-01", "event"),
                {
                    "ts": iso(ts),
                    "seq": 3,
                    "type": "broadcast",
                    "severity": "warning",
                    "data": {"result": "missed", "schedule": "sáng-06:00"},
                },
            ),
            (publisher.topic("ts-uplink", "status"), "online"),
            (publisher.topic("ts-cam-01", "status"), {"state": "offline", "ts": iso(ts)}),
        ]
    )
    wait_until(
        lambda: count(db, "SELECT count(*) FROM device_status_changes") == 2,
        10,
        message="status changes",
    )
    points = db.execute(
        "SELECT device_id, metric, value FROM telemetry ORDER BY device_id, metric"
    ).fetchall()
    assert points == [
        ("ts-cam-01", "fps", 24.5),
        ("ts-cam-01", "online", 1.0),
        ("ts-cam-01", "stream_up", 1.0),
        ("ts-nvr-01", "disk_status", 1.0),  # index of "abnormal"
    ]
    event = db.execute("SELECT device_id, type, seq, severity, data FROM device_events").fetchone()
    assert event == (
        "ts-spk-01",
        "broadcast",
        3,
        "warning",
        {"result": "missed", "schedule": "sáng-06:00"},
    )
    status: dict[str, bool] = dict(
        db.execute("SELECT device_id, online FROM device_status WHERE online IS NOT NULL")
    )
    assert status == {"ts-uplink": True, "ts-cam-01": False}
    latest = db.execute(
        "SELECT value, time FROM device_latest WHERE device_id = 'ts-cam-01' AND metric = 'fps'"
    ).fetchone()
    assert latest is not None and latest[0] == 24.5 and abs((latest[1] - ts).total_seconds()) < 1e-3
    seen = db.execute(
        "SELECT last_seq, messages FROM device_status WHERE device_id = 'ts-nvr-01'"
    ).fetchone()
    assert seen == (7, 1)
    assert count(db, "SELECT count(*) FROM quarantine") == 0


def test_readings_duplicates_and_reordering(
    service: IngestService, publisher: Publisher, db: psycopg.Connection
) -> None:
    t = [now_minus(60 - i * 10) for i in range(5)]
    topic = publisher.topic("ts-uplink")
    batch = {
        "readings": [
            {"ts": iso(t[i]), "seq": 10 + i, "metrics": {"rtt_ms": 10 + i, "loss_pct": 0}}
            for i in (0, 1, 2)
        ]
    }
    newest = {"ts": iso(t[4]), "seq": 14, "metrics": {"rtt_ms": 99}}
    older = {"ts": iso(t[3]), "seq": 13, "metrics": {"rtt_ms": 13}}
    # the newest first, then an older one (out of order), then the same messages again
    publisher.send_all([(topic, batch), (topic, newest), (topic, older)])
    publisher.send_all([(topic, batch), (topic, newest)])
    wait_until(lambda: service.stats.snapshot()["received"] == 5, 10, message="5 messages")
    assert count(db, "SELECT count(*) FROM telemetry WHERE metric = 'rtt_ms'") == 5
    assert count(db, "SELECT count(*) FROM telemetry_points") == 8
    assert service.stats.snapshot()["duplicates"] == 7
    latest = db.execute(
        "SELECT value FROM device_latest WHERE device_id = 'ts-uplink' AND metric = 'rtt_ms'"
    ).fetchone()
    assert latest == (99.0,)  # newest timestamp wins, not the last arrival
    assert db.execute(
        "SELECT last_seq, seq_gaps FROM device_status WHERE device_id = 'ts-uplink'"
    ).fetchone() == (14, 0)


def test_seq_gap_counted_after_the_hold_reordering_is_not(
    service: IngestService, publisher: Publisher, db: psycopg.Connection
) -> None:
    """seq 3 never arrives, 4 arrives late: one message lost once 60 s of device time passed."""
    topic = publisher.topic("ts-cam-01")
    hold = service.ingest.seq_gap_hold_s
    sent = ((1, 30), (2, 20), (5, 10), (4, 15), (6, 10 - hold - 1))
    for seq, age in sent:
        ts = now_minus(hold + age + 5)
        publisher.send_all([(topic, {"ts": iso(ts), "seq": seq, "metrics": {"fps": 20}})])

        def done(s: int = seq) -> bool:
            row = db.execute(
                "SELECT messages FROM device_status WHERE device_id = 'ts-cam-01'"
            ).fetchone()
            return row is not None and row[0] == [n for n, _ in sent].index(s) + 1

        wait_until(done, 10, message=f"seq {seq} written")
        if seq == 5:  # 3 and 4 missing, not yet counted
            assert (
                count(db, "SELECT seq_gaps FROM device_status WHERE device_id = 'ts-cam-01'") == 0
            )
    row = db.execute(
        "SELECT last_seq, seq_gaps, seq_missing FROM device_status WHERE device_id = 'ts-cam-01'"
    ).fetchone()
    assert row == (6, 1, [])


def test_heartbeat_row_and_birth(
    service: IngestService, publisher: Publisher, db: psycopg.Connection
) -> None:
    publisher.send_all(
        [(publisher.topic("ts-cam-01"), {"ts": iso(now_minus(1)), "seq": 1, "metrics": {"fps": 1}})]
    )
    row = wait_until(
        lambda: db.execute(
            "SELECT received, written_rows, heartbeat_at > now() - interval '5 s'"
            " FROM ingest_instances WHERE instance = %s AND received > 0",
            (service.ingest.instance,),
        ).fetchone(),
        10,
        message="heartbeat row with counters",
    )
    assert row == (1, 1, True)
    got: list[bytes | bytearray] = []
    publisher.client.on_message = lambda _c, _u, m: got.append(m.payload)
    publisher.client.subscribe(status_topic(service.ingest.instance), qos=1)
    wait_until(lambda: got, 10, message="retained birth message")
    assert got[0] == b"online"


def test_prometheus_endpoint(registry: str, mqtt_url: str) -> None:
    settings, ingest = test_settings(registry, mqtt_url, metrics_port=free_port())
    with IngestService(settings, ingest) as service:
        wait_until(service.consumer.connected.is_set, 10, message="connected")
        pub = Publisher(mqtt_url, ingest.topic_prefix)
        try:
            pub.send_all([(pub.topic("ts-nobody"), b"{}")])
        finally:
            pub.close()
        url = f"http://127.0.0.1:{ingest.metrics_port}/metrics"

        def exported() -> str:
            text = httpx.get(url).text
            return text if 'reason="unknown_device"' in text else ""

        body = wait_until(
            exported,
            10,
            message="quarantine counter exported",
        )
    assert "ioc_ingest_received_total 1.0" in body
    assert "ioc_ingest_batch_seconds_bucket" in body


def test_message_with_mqtt5_properties_takes_the_general_path(
    service: IngestService, publisher: Publisher, db: psycopg.Connection, mqtt_url: str
) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    target = MqttTarget(mqtt_url)
    client.connect(target.host, target.port)
    client.loop_start()
    try:
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = ("firmware", "2.1.0")
        props.ContentType = "application/json"
        body = {"ts": iso(now_minus(1)), "seq": 1, "metrics": {"fps": 12.5}}
        info = client.publish(
            publisher.topic("ts-cam-01"), json.dumps(body), qos=1, properties=props
        )
        info.wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()
    wait_until(
        lambda: count(db, "SELECT count(*) FROM telemetry WHERE metric = 'fps'") == 1,
        10,
        message="message with properties stored",
    )
