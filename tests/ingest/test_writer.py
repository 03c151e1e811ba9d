"""The batch writer against the real database: binary COPY encoding and the redelivery path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import psycopg

from ingest.decode import Limits, decode
from ingest.registry import load_view
from ingest.writer import Item, WriteResult, prepare, write_items
from tests.ingest.conftest import now_minus


def items(conn: psycopg.Connection, payloads: list[bytes]) -> list[Item]:
    view = load_view(conn)
    topic = "ioc/v1/21025/ts-uplink/telemetry"
    now = datetime.now(UTC)
    return [Item(topic, p, now, decode(topic, p, now, view, Limits())) for p in payloads]


def write(url: str, batch: list[bytes]) -> WriteResult:
    with psycopg.connect(url) as conn:
        prepare(conn)
        result = write_items(conn, items(conn, batch))
        conn.commit()
    return result


def reading(ts: datetime, seq: int, rtt: float | int) -> bytes:
    return f'{{"ts": "{ts.isoformat()}", "seq": {seq}, "metrics": {{"rtt_ms": {rtt}}}}}'.encode()


def stored(db: psycopg.Connection) -> list[tuple[datetime, float]]:
    return db.execute(
        "SELECT time, value FROM telemetry WHERE device_id = 'ts-uplink' AND metric = 'rtt_ms'"
        " ORDER BY time"
    ).fetchall()


def test_points_round_trip_exactly(registry: str, db: psycopg.Connection) -> None:
    base = now_minus(3600).replace(microsecond=123456)
    plus7 = base.astimezone(timezone(timedelta(hours=7)))
    values: list[float | int] = [0, 1.5, 2**19, 1e-300, 12.345678901234567]  # rtt_ms ≤ 600000
    batch = [reading(base + timedelta(seconds=i), i, v) for i, v in enumerate(values)]
    batch.append(reading(plus7 + timedelta(seconds=10), 10, 7))  # another UTC offset
    result = write(registry, batch)
    assert (result.rows, result.duplicates, result.quarantined) == (6, 0, {})
    times = [base + timedelta(seconds=i) for i in range(5)] + [base + timedelta(seconds=10)]
    assert stored(db) == list(zip(times, [float(v) for v in [*values, 7]], strict=True))


def test_redelivered_and_overlapping_batches_insert_only_new_points(
    registry: str, db: psycopg.Connection
) -> None:
    t = [now_minus(600 - i) for i in range(6)]
    first = [reading(t[i], i, i) for i in range(4)]
    assert (write(registry, first).rows, write(registry, first).duplicates) == (4, 4)
    overlap = [reading(t[i], i, i) for i in range(2, 6)]  # two stored, two new
    result = write(registry, overlap)
    assert (result.rows, result.duplicates) == (2, 2)
    assert [v for _, v in stored(db)] == [0, 1, 2, 3, 4, 5]
    latest = db.execute(
        "SELECT time, value FROM device_latest WHERE device_id = 'ts-uplink' AND metric = 'rtt_ms'"
    ).fetchone()
    assert latest == (t[5], 5.0)
