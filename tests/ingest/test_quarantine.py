"""Every kind of bad input lands in quarantine with its reason while valid traffic flows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg

from ingest.service import IngestService
from tests.ingest.conftest import Publisher, count, import_yaml, iso, now_minus, test_settings
from tests.util import wait_until


def _reading(**metrics: Any) -> dict[str, Any]:
    return {"ts": iso(now_minus(2)), "seq": 1, "metrics": metrics}


def bad_inputs(p: Publisher) -> list[tuple[str, str, Any]]:
    """(expected reason, topic, payload) for every kind of bad input."""
    now = now_minus(0)
    cam = p.topic("ts-cam-01")
    return [
        ("unknown_device", p.topic("ts-nobody"), _reading(fps=1)),
        ("wrong_commune", p.topic("th-cam-01"), _reading(fps=2)),
        ("decommissioned", p.topic("ts-old-01"), _reading(fps=3)),
        ("bad_topic", p.topic("ts-cam-01", "metrics"), _reading(fps=4)),
        ("invalid_utf8", cam, b'{"ts": "\xff\xfe", "seq": 1}'),
        ("invalid_json", cam, b'{"ts": 1, "seq": '),
        ("schema", cam, {"ts": iso(now), "seq": 1, "metrics": {"fps": 5}, "extra": 1}),
        ("schema", cam, {"ts": iso(now), "metrics": {"fps": 5}}),
        ("invalid_number", cam, '{"ts": 1700000000000, "seq": 2, "metrics": {"fps": NaN}}'),
        ("invalid_number", cam, '{"ts": 1700000000000, "seq": 3, "metrics": {"fps": Infinity}}'),
        ("bad_timestamp", cam, {"ts": "2026-01-01T10:00:00", "seq": 1, "metrics": {"fps": 6}}),
        ("bad_timestamp", cam, {"ts": "yesterday", "seq": 1, "metrics": {"fps": 6}}),
        (
            "future_timestamp",
            cam,
            {"ts": iso(now + timedelta(hours=1)), "seq": 1, "metrics": {"fps": 7}},
        ),
        ("too_old", cam, {"ts": iso(now - timedelta(days=45)), "seq": 1, "metrics": {"fps": 8}}),
        ("unknown_metric", cam, _reading(fps=9, rssi_dbm=-70)),
        ("out_of_range", cam, _reading(cpu_pct=150)),
        ("bad_value", p.topic("ts-nvr-01"), _reading(disk_status="broken")),
        ("bad_value", cam, _reading(stream_up=2)),
        ("bad_value", cam, _reading(fps="fast")),
        ("oversized", cam, b"{" + b" " * 70_000 + b"}"),
        (
            "unknown_event",
            p.topic("ts-cam-01", "event"),
            {"ts": iso(now), "seq": 1, "type": "explosion"},
        ),
        ("invalid_json", p.topic("ts-cam-01", "status"), "maybe"),
        ("schema", p.topic("ts-cam-01", "status"), {"state": "dozing"}),
    ]


def test_every_bad_input_is_quarantined_and_valid_traffic_flows(
    service: IngestService, publisher: Publisher, db: psycopg.Connection
) -> None:
    bad = bad_inputs(publisher)
    messages = []
    for i, (_reason, topic, payload) in enumerate(bad):
        messages.append((topic, payload))
        good = {"ts": iso(now_minus(100 - i)), "seq": 100 + i, "metrics": {"rtt_ms": i}}
        messages.append((publisher.topic("ts-uplink"), good))
    publisher.send_all(messages)
    wait_until(
        lambda: count(db, "SELECT count(*) FROM quarantine") == len(bad),
        15,
        message=f"{len(bad)} quarantined messages",
    )
    rows = db.execute(
        "SELECT reason, detail, topic, payload_size FROM quarantine ORDER BY id"
    ).fetchall()
    assert sorted(r[0] for r in rows) == sorted(b[0] for b in bad), rows
    assert all(r[1] for r in rows), "every quarantine row says why"
    details = {r[0]: r[1] for r in rows}
    assert "rssi_dbm" in details["unknown_metric"]
    assert "cpu_pct" in details["out_of_range"]
    assert count(db, "SELECT max(payload_size) FROM quarantine") > 70_000
    assert count(db, "SELECT max(length(payload)) FROM quarantine") <= 4096
    wait_until(
        lambda: (
            count(db, "SELECT count(*) FROM telemetry WHERE device_id = 'ts-uplink'") == len(bad)
        ),
        10,
        message="all valid messages stored",
    )
    assert count(db, "SELECT count(*) FROM telemetry WHERE device_id <> 'ts-uplink'") == 0
    assert sum(service.quarantined().values()) == len(bad)


def test_redelivered_bad_message_counts_occurrences(
    service: IngestService, publisher: Publisher, db: psycopg.Connection
) -> None:
    topic = publisher.topic("ts-nobody")
    publisher.send_all([(topic, b"not json"), (topic, b"not json")])
    wait_until(
        lambda: count(db, "SELECT sum(occurrences) FROM quarantine") == 2,
        10,
        message="2 occurrences",
    )
    assert count(db, "SELECT count(*) FROM quarantine") == 1


def test_device_imported_while_running_is_accepted(
    service: IngestService, publisher: Publisher, db: psycopg.Connection
) -> None:
    topic = publisher.topic("ts-cam-new")
    publisher.send_all([(topic, _reading(fps=1))])
    wait_until(lambda: count(db, "SELECT count(*) FROM quarantine") == 1, 10, message="quarantined")
    import_yaml(
        service.settings.database_url,
        'communes: [{code: "21025", name: "Xã Tịnh Sơn", province: "Quảng Ngãi"}]\n'
        'devices: [{id: ts-cam-new, type: camera, commune: "21025", name: "Camera mới"}]\n',
    )
    seq = iter(range(2, 1000))

    def accepted() -> bool:
        # a device reporting periodically, as real ones do
        publisher.send_all(
            [(topic, {"ts": iso(now_minus(0)), "seq": next(seq), "metrics": {"fps": 2}})]
        )
        return count(db, "SELECT count(*) FROM telemetry WHERE device_id = 'ts-cam-new'") > 0

    wait_until(accepted, 3, interval=0.1, message="new device accepted within seconds")


POISON_TRIGGER = """
CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.data ? 'poison' THEN RAISE EXCEPTION 'poisoned row'; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_poison BEFORE INSERT ON device_events
    FOR EACH ROW EXECUTE FUNCTION test_poison();
"""


def test_poison_message_is_isolated(registry: str, mqtt_url: str, db: psycopg.Connection) -> None:
    db.execute(POISON_TRIGGER)
    settings, ingest = test_settings(registry, mqtt_url, batch_max_wait_s=0.5)
    with IngestService(settings, ingest) as service:
        wait_until(service.consumer.connected.is_set, 10, message="connected")
        pub = Publisher(mqtt_url, ingest.topic_prefix)
        try:
            ev = pub.topic("ts-cam-01", "event")
            pub.send_all(
                [
                    (pub.topic("ts-uplink"), _reading(rtt_ms=1)),
                    (
                        ev,
                        {
                            "ts": iso(now_minus(3)),
                            "seq": 1,
                            "type": "tamper",
                            "data": {"poison": 1},
                        },
                    ),
                    (ev, {"ts": iso(now_minus(2)), "seq": 2, "type": "tamper"}),
                ]
            )
            wait_until(
                lambda: count(db, "SELECT count(*) FROM quarantine WHERE reason = 'write_failed'"),
                10,
                message="poison quarantined",
            )
        finally:
            pub.close()
    assert count(db, "SELECT count(*) FROM device_events") == 1
    assert count(db, "SELECT count(*) FROM telemetry") == 1
    detail = db.execute("SELECT detail FROM quarantine").fetchone()
    assert detail is not None and "poisoned row" in detail[0]
