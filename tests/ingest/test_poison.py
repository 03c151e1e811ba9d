"""One poison message costs only itself: decoder-breaking payloads and a message the database
refuses are quarantined while valid traffic of other devices in the same batches is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from ingest.decode import decode
from ingest.reasons import Rejected
from ingest.registry import DeviceInfo, build_view
from ingest.service import IngestService
from tests.ingest.conftest import Publisher, count, iso, now_minus
from tests.util import wait_until

DEEP = 5000  # far deeper than the JSON parsers' recursion limits


def poison_payloads() -> list[bytes]:
    """Payloads that made judging a message raise (RecursionError on the error path)."""
    ts = b'"2026-01-01T00:00:00+00:00"'
    return [
        b"[" * DEEP + b"]" * DEEP,
        b'{"a":' * DEEP + b"1" + b"}" * DEEP,
        b'{"ts":' + ts + b',"seq":1,"metrics":{"fps":' + b"[" * DEEP + b"]" * DEEP + b"}}",
        b'{"ts":'
        + ts
        + b',"seq":1,"type":"tamper","data":'
        + b'{"a":' * DEEP
        + b"1"
        + b"}" * DEEP
        + b"}",
        b'{"state":' + b"[" * DEEP + b"]" * DEEP + b"}",
    ]


def test_decode_never_raises_on_deep_nesting() -> None:
    view = build_view([DeviceInfo("cam", 1, "camera", "c")], {"fps": 1})
    now = datetime.now(UTC)
    for channel in ("telemetry", "event", "status"):
        for payload in poison_payloads():
            result = decode(f"ioc/v1/c/cam/{channel}", payload, now, view)
            assert isinstance(result, Rejected), (channel, payload[:40])
            assert result.detail


def test_poison_messages_cost_only_themselves(
    service: IngestService, publisher: Publisher, db: psycopg.Connection
) -> None:
    # A message the database itself refuses (not judged bad by the decoder): a real constraint.
    db.execute("ALTER TABLE telemetry_points ADD CONSTRAINT no_4242 CHECK (value <> 4242)")
    base = now_minus(600)
    messages: list[tuple[str, object]] = []
    poison = 0
    valid = 0
    for i in range(60):
        ts = iso(base + timedelta(seconds=i))
        messages.append(
            (publisher.topic("ts-uplink"), {"ts": ts, "seq": i, "metrics": {"rtt_ms": i}})
        )
        messages.append(
            (publisher.topic("ts-spk-01"), {"ts": ts, "seq": i, "metrics": {"volume": 50}})
        )
        valid += 2
        if i % 6 == 0:
            channel = ("telemetry", "event", "status")[i // 6 % 3]
            payload = poison_payloads()[i // 6 % 5]
            messages.append((publisher.topic("ts-cam-01", channel), payload))
            poison += 1
        if i % 20 == 10:
            refused = {"ts": ts, "seq": i, "metrics": {"bitrate_kbps": 4242}}
            messages.append((publisher.topic("ts-cam-01"), refused))
            poison += 1
    publisher.send_all(messages)  # type: ignore[arg-type]
    wait_until(
        lambda: count(db, "SELECT count(*) FROM telemetry_points") == valid,
        20,
        message=f"{valid} valid rows written",
    )
    wait_until(
        lambda: count(db, "SELECT coalesce(sum(occurrences), 0) FROM quarantine") == poison,
        20,
        message=f"{poison} poison messages quarantined",
    )
    reasons = dict(
        db.execute("SELECT reason, sum(occurrences) FROM quarantine GROUP BY 1").fetchall()
    )
    assert reasons.get("write_failed") == 3, reasons
    assert set(reasons) <= {"write_failed", "invalid_json", "undecodable", "schema"}, reasons
    # Everything was acknowledged: ingest keeps going and nothing is left for redelivery.
    publisher.send_all(
        [(publisher.topic("ts-uplink"), {"ts": iso(now_minus(1)), "seq": 999, "metrics": {}})]
    )
    wait_until(
        lambda: count(db, "SELECT coalesce(sum(occurrences), 0) FROM quarantine") == poison + 1,
        10,
        message="a later message still judged",
    )
