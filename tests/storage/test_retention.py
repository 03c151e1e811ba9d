"""Retention drops exactly the expired partitions, trims history, keeps partitions ahead.

TimescaleDB branch: the same outcomes through the policies (run with ``CALL run_job``):
whole chunks dropped past the horizon, compression instead of index compaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from storage import policies, retention
from tests.storage.conftest import (
    materialized,
    metric_id,
    run_jobs,
    storage_setup,
    timescale,
    write_points,
)

SETTINGS = storage_setup(
    retention={
        "raw_days": 30,
        "events_days": 20,
        "five_minute_days": 60,
        "hourly_days": 400,
        "quarantine_days": 7,
        "status_days": 10,
        "availability_days": 10,
        "partitions_ahead_days": 5,
    }
)
NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
PARTS = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = %s::regclass ORDER BY 1
"""


CHUNK_WIDTH = """
SELECT time_interval FROM timescaledb_information.dimensions
WHERE hypertable_schema || '.' || hypertable_name = %(rel)s
   OR format('%%I.%%I', hypertable_schema, hypertable_name) = %(rel)s
"""
CHUNKS = """
SELECT chunk_name, is_compressed FROM timescaledb_information.chunks
WHERE hypertable_name = 'telemetry_points' ORDER BY range_start
"""


def _parts(db: psycopg.Connection, parent: str) -> set[str]:
    return {r[0] for r in db.execute(PARTS, (parent,)).fetchall()}


def _day(t: datetime) -> datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def test_drops_whole_expired_partitions_only_and_creates_ahead(
    db: psycopg.Connection, registry: dict[str, int]
) -> None:
    fps = metric_id(db, "fps")
    cam = registry["cam1"]
    db.execute(
        "SELECT ioc_ensure_partitions('telemetry_points', %s, %s)",
        ((NOW - timedelta(days=40)).date(), NOW.date()),
    )
    # one point every 6 hours for 40 days
    times = [NOW - timedelta(hours=6 * i) for i in range(160)]
    write_points(db, [(t, 1.0, cam, fps) for t in times])
    if timescale(db):
        # The policy's horizon is the server's now(); a 1-day chunk goes only once it has
        # ended before the horizon.
        policies.apply_timescale_policies(db, SETTINGS)
        horizon = datetime.now(UTC) - timedelta(days=30)
        assert run_jobs(db, "policy_retention")
        expect_kept = [t for t in times if _day(t) + timedelta(days=1) > horizon]
        kept = db.execute("SELECT count(*), min(time) FROM telemetry_points").fetchone()
        assert kept == (len(expect_kept), min(expect_kept))
        assert kept[1] <= horizon  # nothing newer than the horizon was dropped
        run_jobs(db, "policy_retention")
        assert db.execute("SELECT count(*) FROM telemetry_points").fetchone() == (len(expect_kept),)
        return
    horizon = NOW - timedelta(days=30)
    first_kept_day = horizon.date()  # its partition ends after the horizon: kept whole
    expect_kept = [t for t in times if t.date() >= first_kept_day]
    result = retention.run(db, SETTINGS, now=NOW)
    assert not result.skipped
    kept = db.execute("SELECT count(*), min(time) FROM telemetry_points").fetchone()
    assert kept is not None
    assert kept[0] == len(expect_kept)
    assert kept[1] == min(expect_kept)
    assert kept[1] <= horizon  # nothing newer than the horizon was dropped
    dropped_raw = [n for n in result.dropped if n.startswith("telemetry_points_p")]
    assert dropped_raw
    assert all(n[-8:] < first_kept_day.strftime("%Y%m%d") for n in dropped_raw)
    names = _parts(db, "telemetry_points") | _parts(db, "device_events")
    for i in range(6):
        assert f"telemetry_points_p{(NOW + timedelta(days=i)):%Y%m%d}" in names
        assert f"device_events_p{(NOW + timedelta(days=i)):%Y%m%d}" in names
    again = retention.run(db, SETTINGS, now=NOW)
    assert again.dropped == []
    assert again.created == 0


def test_rollup_partitions_expire_by_their_own_retention(
    db: psycopg.Connection, registry: dict[str, int]
) -> None:
    if timescale(db):
        _rollup_chunks_expire_by_their_own_retention(db, registry)
        return
    old = NOW - timedelta(days=90)
    db.execute(
        "SELECT storage_ensure_partitions('telemetry_rollup_5m', %s, %s, '1 month')",
        (old, NOW),
    )
    db.execute(
        "INSERT INTO telemetry_rollup_5m (bucket, device_key, metric_id, min, max, avg, last, count)"
        " SELECT b, 1, 1, 0, 0, 0, 0, 1 FROM generate_series(%s::timestamptz, %s, '1 day') b",
        (old, NOW),
    )
    horizon = NOW - timedelta(days=60)
    result = retention.run(db, SETTINGS, now=NOW)
    assert any(n.startswith("telemetry_rollup_5m_p") for n in result.dropped)
    row = db.execute("SELECT min(bucket) FROM telemetry_rollup_5m").fetchone()
    assert row is not None
    oldest = row[0]
    # the oldest kept bucket sits in the partition (month) holding the horizon
    assert (oldest.year, oldest.month) <= (horizon.year, horizon.month)
    assert oldest >= datetime(horizon.year, horizon.month, 1, tzinfo=UTC)


def _rollup_chunks_expire_by_their_own_retention(
    db: psycopg.Connection, registry: dict[str, int]
) -> None:
    """TimescaleDB: the aggregates' retention policies drop their own old chunks."""
    fps = metric_id(db, "fps")
    now = datetime.now(UTC)
    old = _day(now - timedelta(days=90))
    days = [old + timedelta(days=i, hours=1) for i in range(90)]
    write_points(db, [(t, 1.0, registry["cam1"], fps) for t in days])
    # Materialize all of it (outside ``ioc maintain``'s window, which stays in raw retention).
    db.execute("CALL refresh_continuous_aggregate('telemetry_cagg_5m', %s, %s)", (old, _day(now)))
    db.execute("CALL refresh_continuous_aggregate('telemetry_cagg_1h', %s, %s)", (old, _day(now)))
    policies.apply_timescale_policies(db, SETTINGS)
    assert run_jobs(db, "policy_retention")
    for res, keep in (
        ("5m", SETTINGS.retention.five_minute_days),
        ("1h", SETTINGS.retention.hourly_days),
    ):
        rel = materialized(db, res)
        width = db.execute(CHUNK_WIDTH, {"rel": rel}).fetchone()
        assert width is not None
        horizon = now - timedelta(days=keep)
        buckets = [r[0] for r in db.execute(f"SELECT bucket FROM {rel} ORDER BY 1")]
        expect = [t.replace(minute=0) for t in days if t >= horizon - width[0]]
        # every bucket newer than the horizon is kept; nothing older than its chunk is
        assert [b for b in buckets if b >= horizon] == [
            t.replace(minute=0) for t in days if t >= horizon
        ]
        assert buckets[0] >= horizon - width[0]
        assert len(buckets) <= len(expect)


def test_trims_history_keeping_the_state_at_the_horizon(
    db: psycopg.Connection, registry: dict[str, int]
) -> None:
    for days, online in ((20, False), (15, True), (12, False), (3, True)):
        db.execute(
            "INSERT INTO device_status_changes (time, device_id, online) VALUES (%s, 'cam1', %s)",
            (NOW - timedelta(days=days), online),
        )
    for days in (9, 6):
        db.execute(
            "INSERT INTO quarantine (topic, reason, payload, payload_size, digest, "
            "received_at, last_received_at) VALUES ('t', 'r', 'p', 1, %s, %s, %s)",
            (str(days).encode(), NOW - timedelta(days=days), NOW - timedelta(days=days)),
        )
    result = retention.run(db, SETTINGS, now=NOW)
    assert result.deleted_rows["device_status_changes"] == 2
    assert result.deleted_rows["quarantine"] == 1
    kept = [r[0] for r in db.execute("SELECT online FROM device_status_changes ORDER BY time")]
    assert kept == [False, True]  # the change at -12 days (state at the horizon) and -3 days


def test_concurrent_run_skips(db: psycopg.Connection, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (retention.RETENTION_LOCK,))
        assert retention.run(db, SETTINGS, now=NOW).skipped


@pytest.mark.timescaledb
def test_timescale_policies_are_created_once_and_altered_in_place(db: psycopg.Connection) -> None:
    if not timescale(db):
        pytest.skip("TimescaleDB extension not installed on this server (plain PostgreSQL path)")
    jobs_sql = """
        SELECT job_id, proc_name, hypertable_name, config FROM timescaledb_information.jobs
        WHERE hypertable_schema = 'public' ORDER BY job_id
    """
    first = policies.apply_timescale_policies(db, SETTINGS)
    assert (len(first.added), first.altered, first.kept) == (7, [], [])
    jobs = db.execute(jobs_sql).fetchall()
    assert sorted((p, h) for _, p, h, _ in jobs) == [
        ("policy_compression", "telemetry_points"),
        ("policy_refresh_continuous_aggregate", "telemetry_cagg_1h"),
        ("policy_refresh_continuous_aggregate", "telemetry_cagg_5m"),
        ("policy_retention", "device_events"),
        ("policy_retention", "telemetry_cagg_1h"),
        ("policy_retention", "telemetry_cagg_5m"),
        ("policy_retention", "telemetry_points"),
    ]
    run_jobs(db, "policy_retention")  # a job with history
    again = policies.apply_timescale_policies(db, SETTINGS)
    assert (again.added, again.altered, len(again.kept)) == ([], [], 7)
    assert db.execute(jobs_sql).fetchall() == jobs
    changed = replace(
        SETTINGS,
        retention=SETTINGS.retention.model_copy(update={"five_minute_days": 90}),
        rollup=SETTINGS.rollup.model_copy(update={"interval_s": 120}),
    )
    third = policies.apply_timescale_policies(db, changed)
    assert sorted(third.altered) == [
        "policy_refresh_continuous_aggregate telemetry_cagg_1h",
        "policy_refresh_continuous_aggregate telemetry_cagg_5m",
        "policy_retention telemetry_cagg_5m",
    ]
    after = db.execute(jobs_sql).fetchall()
    assert [j[0] for j in after] == [j[0] for j in jobs]  # same ids
    drop = {h: c["drop_after"] for _, p, h, c in after if p == "policy_retention"}
    assert drop["telemetry_cagg_5m"] == "90 days"


def test_closed_partitions_are_compacted_once(
    db: psycopg.Connection, registry: dict[str, int]
) -> None:
    fps = metric_id(db, "fps")
    day = NOW - timedelta(days=3)
    write_points(db, [(day + timedelta(seconds=i), 1.0, registry["cam2"], fps) for i in range(500)])
    if timescale(db):  # closed chunks are compressed instead, once
        policies.apply_timescale_policies(db, SETTINGS)
        run_jobs(db, "policy_compression")
        chunks = db.execute(CHUNKS).fetchall()
        assert len(chunks) == 1 and chunks[0][1] is True
        run_jobs(db, "policy_compression")
        assert db.execute(CHUNKS).fetchall() == chunks
        assert db.execute("SELECT count(*) FROM telemetry_points").fetchone() == (500,)
        return
    first = retention.run(db, SETTINGS, now=NOW)
    name = f"telemetry_points_p{day:%Y%m%d}"
    assert name in first.compacted
    assert f"telemetry_points_p{NOW:%Y%m%d}" not in first.compacted  # today is still open
    row = db.execute(
        "SELECT bytes_after > 0 FROM storage_compacted WHERE partition = %s", (name,)
    ).fetchone()
    assert row == (True,)
    assert retention.run(db, SETTINGS, now=NOW).compacted == []
    count = db.execute("SELECT count(*) FROM telemetry_points").fetchone()
    assert count == (500,)
