"""Batch writes: COPY into a staging table, idempotent inserts, latest/status upserts, quarantine.

Everything for one batch happens in the caller's transaction; the caller commits, then acks.
"""

from __future__ import annotations

import hashlib
import struct
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from ingest.decode import Decoded, Point
from ingest.reasons import Rejected
from ingest.sequence import DEFAULT_HOLD_S, SeqState

CREATE_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS ingest_stage (
    time timestamptz NOT NULL, value double precision NOT NULL,
    device_key integer NOT NULL, metric_id smallint NOT NULL
) ON COMMIT DELETE ROWS
"""
CREATE_STATUS_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS ingest_status_stage (
    device_id text, online boolean, status_time timestamptz, status_received_at timestamptz,
    last_seen timestamptz, last_received_at timestamptz, last_seq bigint, seq_gaps bigint,
    seq_missing bigint[], messages bigint
) ON COMMIT DELETE ROWS
"""
COPY_STATUS = """
COPY ingest_status_stage (device_id, online, status_time, status_received_at, last_seen,
                          last_received_at, last_seq, seq_gaps, seq_missing, messages)
FROM STDIN (FORMAT BINARY)
"""
STATUS_TYPES = (
    "text",
    "bool",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "int8",
    "int8",
    "int8[]",
    "int8",
)
COPY_STAGE = "COPY ingest_stage (time, value, device_key, metric_id) FROM STDIN (FORMAT BINARY)"
COPY_POINTS = (
    "COPY telemetry_points (time, value, device_key, metric_id) FROM STDIN (FORMAT BINARY)"
)
TRUNCATE_STAGE = "TRUNCATE ingest_stage, ingest_status_stage"
INSERT_POINTS = """
INSERT INTO telemetry_points (time, value, device_key, metric_id)
SELECT time, value, device_key, metric_id FROM ingest_stage
ON CONFLICT DO NOTHING
"""
# "Latest" is the newest device timestamp, not the last arrival; rows locked in key order.
# A reading dated ahead of the ingest clock (%(horizon)s) is stored but never becomes latest:
# it would pin the value until real time caught up with it.
UPSERT_LATEST = """
INSERT INTO device_latest_points AS l (device_key, metric_id, time, value)
SELECT DISTINCT ON (device_key, metric_id) device_key, metric_id, time, value
FROM ingest_stage
WHERE time <= %(horizon)s
ORDER BY device_key, metric_id, time DESC
ON CONFLICT (device_key, metric_id) DO UPDATE SET time = excluded.time, value = excluded.value
WHERE l.time < excluded.time
"""
INSERT_EVENT = """
INSERT INTO device_events (time, device_id, seq, type, severity, data, received_at)
VALUES (%(time)s, %(device_id)s, %(seq)s, %(type)s, %(severity)s, %(data)s::jsonb,
        %(received_at)s)
ON CONFLICT DO NOTHING
"""
ENSURE_STATUS = """
INSERT INTO device_status (device_id) SELECT id FROM unnest(%(ids)s::text[]) AS u(id) ORDER BY 1
ON CONFLICT DO NOTHING
"""
LOCK_STATUS = """
SELECT device_id, online, status_time, status_received_at, last_seen, last_received_at,
       last_seq, seq_gaps, seq_missing
FROM device_status WHERE device_id = ANY(%(ids)s) ORDER BY device_id FOR UPDATE
"""
UPDATE_STATUS = """
UPDATE device_status s SET online = u.online, status_time = u.status_time,
    status_received_at = u.status_received_at, last_seen = u.last_seen, last_received_at = u.last_received_at, last_seq = u.last_seq,
    seq_gaps = u.seq_gaps, seq_missing = u.seq_missing, messages = s.messages + u.messages
FROM ingest_status_stage u
WHERE s.device_id = u.device_id
"""
# A birth's keep-alive (or NULL when a birth says none: the catalogue's default applies).
SET_KEEPALIVE = """
UPDATE device_status s SET keepalive_s = u.keepalive_s
FROM unnest(%(ids)s::text[], %(keepalive)s::int[]) AS u(device_id, keepalive_s)
WHERE s.device_id = u.device_id AND s.keepalive_s IS DISTINCT FROM u.keepalive_s
"""
INSERT_CHANGE = """
INSERT INTO device_status_changes (time, device_id, online, received_at)
VALUES (%(time)s, %(device_id)s, %(online)s, %(received_at)s)
ON CONFLICT DO NOTHING
"""
UPSERT_QUARANTINE = """
INSERT INTO quarantine AS q (received_at, last_received_at, topic, reason, detail, device_id,
                             payload, payload_size, digest)
VALUES (%(received_at)s, %(received_at)s, %(topic)s, %(reason)s, %(detail)s, %(device_id)s,
        %(payload)s, %(payload_size)s, %(digest)s)
ON CONFLICT (digest) DO UPDATE SET occurrences = q.occurrences + 1,
    last_received_at = greatest(q.last_received_at, excluded.last_received_at)
"""
PAYLOAD_TEXT_LIMIT = 4096
LATEST_AHEAD_S = 2.0  # default IOC_INGEST_LATEST_MAX_AHEAD_S: clock skew a reading may have

# PostgreSQL's binary COPY format for (timestamptz, float8, int4, int2) rows, packed here in
# one struct call per row: several times cheaper than psycopg's per-value dumpers.
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, extension length
COPY_TRAILER = b"\xff\xff"
POINT_ROW = struct.Struct("!hiqidiiih")  # 4 fields, each preceded by its byte length
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@dataclass(slots=True)
class Item:
    """One received message on its way to the database."""

    topic: str
    payload: bytes
    received_at: datetime
    result: Decoded | Rejected


@dataclass
class WriteResult:
    """What one batch wrote."""

    rows: int = 0
    duplicates: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)


def quarantine_params(item: Item, rejected: Rejected) -> dict[str, object]:
    """Parameters of the quarantine upsert for one rejected message."""
    raw = item.payload[:PAYLOAD_TEXT_LIMIT]
    text = raw.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")
    topic = item.topic.replace("\x00", "\\x00")
    digest = hashlib.sha256(item.topic.encode("utf-8", "surrogateescape") + b"\x00" + item.payload)
    return {
        "received_at": item.received_at,
        "topic": topic[:1024],
        "reason": rejected.reason.value,
        "detail": rejected.detail.replace("\x00", "\\x00")[:1000],
        "device_id": rejected.device_id,
        "payload": text,
        "payload_size": len(item.payload),
        "digest": digest.digest(),
    }


def copy_data(points: list[Point]) -> bytes:
    """Points as one binary COPY stream (header, rows, trailer)."""
    pack = POINT_ROW.pack
    parts = [COPY_HEADER]
    last: datetime | None = None
    micros = 0
    for ts, value, key, metric_id in points:
        if ts is not last:  # the points of one reading share their timestamp object
            last = ts
            micros = (ts - PG_EPOCH) // MICROSECOND
        parts.append(pack(4, 8, micros, 8, value, 4, key, 2, metric_id))
    parts.append(COPY_TRAILER)
    return b"".join(parts)


def prepare(conn: psycopg.Connection) -> None:
    """Create this connection's staging table."""
    conn.execute(CREATE_STAGE)
    conn.execute(CREATE_STATUS_STAGE)
    conn.commit()


def write_items(
    conn: psycopg.Connection,
    items: list[Item],
    *,
    truncate: bool = False,
    seq_hold_s: float = DEFAULT_HOLD_S,
    latest_ahead_s: float = LATEST_AHEAD_S,
) -> WriteResult:
    """Write a batch's rows in the current transaction (no commit); a `seq` range missing for
    ``seq_hold_s`` of device time counts as lost (see ingest.sequence); a point more than
    ``latest_ahead_s`` ahead of the ingest clock is stored but does not become latest."""
    result = WriteResult()
    points = []
    events = []
    quarantined = []
    for item in items:
        res = item.result
        if isinstance(res, Rejected):
            quarantined.append(quarantine_params(item, res))
            result.quarantined[res.reason.value] += 1
            continue
        if res.points:
            points.extend(res.points)
        for ev in res.events:
            events.append(
                {
                    "time": ev[0],
                    "device_id": ev[1],
                    "seq": ev[2],
                    "type": ev[3],
                    "severity": ev[4],
                    "data": ev[5],
                    "received_at": item.received_at,
                }
            )
    with conn.cursor() as cur:
        if truncate:
            cur.execute(TRUNCATE_STAGE)
        if points:
            inserted = _write_points(cur, copy_data(points))
            result.rows += inserted
            result.duplicates += len(points) - inserted
            horizon = datetime.now(UTC) + timedelta(seconds=latest_ahead_s)
            cur.execute(UPSERT_LATEST, {"horizon": horizon})
        if events:
            cur.executemany(INSERT_EVENT, events)
            inserted = max(cur.rowcount, 0)
            result.rows += inserted
            result.duplicates += len(events) - inserted
        _update_status(cur, items, int(seq_hold_s * 1000))
        if quarantined:
            cur.executemany(UPSERT_QUARANTINE, quarantined)
    return result


def _write_points(cur: psycopg.Cursor, data: bytes) -> int:
    """COPY points straight into the table; if some are stored already (a redelivery), insert
    the batch again skipping those. Either way the staging table gets the batch for
    ``UPSERT_LATEST``. Returns the number of points inserted."""
    inserted = -1
    cur.execute("SAVEPOINT points")
    try:
        with cur.copy(COPY_POINTS) as copy:
            copy.write(data)
        inserted = max(cur.rowcount, 0)
        cur.execute("RELEASE SAVEPOINT points")
    except psycopg.errors.UniqueViolation:
        cur.execute("ROLLBACK TO SAVEPOINT points")
    with cur.copy(COPY_STAGE) as copy:
        copy.write(data)
    if inserted < 0:
        cur.execute(INSERT_POINTS)
        inserted = max(cur.rowcount, 0)
    return inserted


def _update_status(cur: psycopg.Cursor, items: list[Item], seq_hold_ms: int) -> None:
    per_device: dict[str, list[Item]] = {}
    for item in items:
        if isinstance(item.result, Decoded):
            per_device.setdefault(item.result.device.id, []).append(item)
    if not per_device:
        return
    ids = sorted(per_device)
    current = _lock_status(cur, ids)
    if len(current) < len(ids):  # a device's first message: create its row, then lock it
        missing = [i for i in ids if i not in current]
        cur.execute(ENSURE_STATUS, {"ids": missing})
        current.update(_lock_status(cur, missing))
    rows: list[tuple[object, ...]] = []
    changes = []
    births: dict[str, int | None] = {}
    for device_id in ids:
        (_, online, status_time, status_received, last_seen, last_received, last_seq, gaps) = (
            current[device_id][:8]
        )
        open_ranges = current[device_id][8]
        seqs = SeqState(last_seen, last_seq, gaps, open_ranges)
        messages = 0
        seen = []
        statuses = []
        for item in per_device[device_id]:
            res = item.result
            assert isinstance(res, Decoded)
            if res.status is not None:
                statuses.append((res.status[1], res.status[0], item.received_at))
                if res.status[0]:
                    births[device_id] = res.keepalive_s
                continue
            messages += 1
            seen.extend(res.seen)
            if last_received is None or item.received_at > last_received:
                last_received = item.received_at
        seen.sort()  # (ts, seq): two messages in the same millisecond keep their order
        for ts, seq in seen:
            seqs.observe(ts, seq)
        seqs.settle(seq_hold_ms)
        # Status order is arrival (broker) order: the device's `ts` only dates a change, and
        # only when plausible (a will is composed at connect time; a clock may run ahead).
        for ts, state, received_at in statuses:
            if status_received is not None and received_at < status_received:
                continue  # committed out of order by another instance: a newer one is current
            if ts > received_at or (status_received is not None and ts < status_received):
                ts = received_at
            if state != online:
                changes.append(
                    {
                        "time": ts,
                        "device_id": device_id,
                        "online": state,
                        "received_at": received_at,
                    }
                )
                online, status_time = state, ts
            status_received = received_at
        rows.append(
            (
                device_id,
                online,
                status_time,
                status_received,
                seqs.last_seen,
                last_received,
                seqs.last_seq,
                seqs.lost,
                seqs.missing,
                messages,
            )
        )
    with cur.copy(COPY_STATUS) as copy:
        copy.set_types(STATUS_TYPES)
        for row in rows:
            copy.write_row(row)
    cur.execute(UPDATE_STATUS)
    if births:
        cur.execute(SET_KEEPALIVE, {"ids": list(births), "keepalive": list(births.values())})
    if changes:
        cur.executemany(INSERT_CHANGE, changes)


def _lock_status(cur: psycopg.Cursor, ids: list[str]) -> dict[str, tuple[Any, ...]]:
    cur.execute(LOCK_STATUS, {"ids": ids})
    return {row[0]: row for row in cur.fetchall()}
