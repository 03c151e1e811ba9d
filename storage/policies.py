"""TimescaleDB policies: compression, retention and continuous-aggregate refresh jobs.

``ioc maintain`` installs them from the settings on every start, idempotently: a job that
exists keeps its id and history and is altered in place only where a setting changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg
from psycopg.types.json import Jsonb

from storage.retention import retention_days
from storage.rollups import cagg_start_offsets
from storage.settings import StorageSetup

log = logging.getLogger(__name__)

TS_COMPRESS = """
ALTER TABLE telemetry_points SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'device_key, metric_id',
    timescaledb.compress_orderby = 'time DESC')
"""
TS_COMPRESSION_ENABLED = """
SELECT compression_enabled FROM timescaledb_information.hypertables
WHERE hypertable_name = 'telemetry_points'
"""
# For a continuous aggregate, hypertable_name is the view's name.
TS_FIND_JOB = """
SELECT job_id, config, schedule_interval FROM timescaledb_information.jobs
WHERE proc_name = %(proc)s AND hypertable_schema = 'public' AND hypertable_name = %(rel)s
ORDER BY job_id
"""
TS_SAME_INTERVAL = "SELECT %(a)s::interval = %(b)s::interval"
TS_ALTER_JOB = """
SELECT alter_job(%(id)s, schedule_interval => %(every)s::interval, config => %(config)s)
"""
TS_ADD = {
    "policy_compression": "SELECT add_compression_policy(%(rel)s, %(compress_after)s::interval)",
    "policy_retention": "SELECT add_retention_policy(%(rel)s, %(drop_after)s::interval)",
    "policy_refresh_continuous_aggregate": """
SELECT add_continuous_aggregate_policy(%(rel)s, start_offset => %(start_offset)s::interval,
    end_offset => %(end_offset)s::interval, schedule_interval => %(every)s::interval)
""",
}


@dataclass
class PolicyResult:
    """What installing the TimescaleDB policies did, per job (``proc relation``)."""

    added: list[str] = field(default_factory=list)
    altered: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def _interval(delta: timedelta) -> str:
    days, seconds = divmod(int(delta.total_seconds()), 86400)
    return f"{days} days {seconds} seconds"


def wanted_policies(settings: StorageSetup) -> list[tuple[str, str, dict[str, str]]]:
    """The 7 jobs the settings ask for: (procedure, relation, config values as intervals)."""
    days = retention_days(settings)
    offsets = cagg_start_offsets(settings)
    ends = {"telemetry_cagg_5m": settings.rollup.lag_s, "telemetry_cagg_1h": 3600.0}
    out = [
        (
            "policy_compression",
            "telemetry_points",
            {"compress_after": f"{settings.retention.compress_after_days} days"},
        )
    ]
    for rel, key in (
        ("telemetry_points", "raw"),
        ("device_events", "events"),
        ("telemetry_cagg_5m", "5m"),
        ("telemetry_cagg_1h", "1h"),
    ):
        out.append(("policy_retention", rel, {"drop_after": f"{days[key]} days"}))
    # Refresh windows stay inside raw retention, so dropped raw never erases aggregates.
    for rel in ("telemetry_cagg_5m", "telemetry_cagg_1h"):
        config = {
            "start_offset": _interval(offsets[rel]),
            "end_offset": f"{int(ends[rel])} seconds",
        }
        out.append(("policy_refresh_continuous_aggregate", rel, config))
    return out


def apply_timescale_policies(conn: psycopg.Connection, settings: StorageSetup) -> PolicyResult:
    """Install or update compression, retention and refresh policies from the settings.

    Idempotent: an existing job keeps its id and history; only a setting that differs is
    changed in place (``alter_job``).
    """
    result = PolicyResult()
    every = f"{int(settings.rollup.interval_s)} seconds"
    with conn.transaction():
        enabled = conn.execute(TS_COMPRESSION_ENABLED).fetchone()
        if not (enabled and enabled[0]):  # settings cannot change once chunks are compressed
            conn.execute(TS_COMPRESS)
        for proc, rel, config in wanted_policies(settings):
            name = f"{proc} {rel}"
            schedule = every if proc == "policy_refresh_continuous_aggregate" else None
            row = conn.execute(TS_FIND_JOB, {"proc": proc, "rel": rel}).fetchone()
            if row is None:
                conn.execute(TS_ADD[proc], {"rel": rel, "every": schedule, **config})
                result.added.append(name)
                continue
            job_id, current, interval = row
            changed = {
                key: value
                for key, value in config.items()
                if not _same_interval(conn, (current or {}).get(key), value)
            }
            reschedule = schedule is not None and not _same_interval(conn, interval, schedule)
            if not changed and not reschedule:
                result.kept.append(name)
                continue
            conn.execute(
                TS_ALTER_JOB,
                {
                    "id": job_id,
                    "every": schedule if reschedule else None,
                    "config": Jsonb({**(current or {}), **changed}),
                },
            )
            result.altered.append(name)
            log.info("TimescaleDB job %s (%s) updated: %s", job_id, name, changed or schedule)
    return result


def _same_interval(conn: psycopg.Connection, a: object, b: str) -> bool:
    if a is None:
        return False
    row = conn.execute(TS_SAME_INTERVAL, {"a": a, "b": b}).fetchone()
    return bool(row and row[0])
