"""Seed a test database for the dashboards: the demo commune replayed by the simulator.

Hours of simulated traffic go through the real ingest decode/write path; a few scenario
messages make sure every panel has something to show (video loss, a missed broadcast, the 4G
backup, a quarantined payload); the tables other stages own (reachability, alerts, outbox,
ingest heartbeats, daily availability) get a small consistent fixture; rollups are refreshed
by the storage job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

from devices.registry import load_file
from devices.store import import_registry
from ingest.decode import Limits, decode
from ingest.registry import load_view
from ingest.writer import Item, prepare, write_items
from simulators.history import messages
from storage.rollups import refresh
from tests.storage.conftest import storage_setup

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "devices" / "data" / "demo_commune.yaml"
COMMUNE = "21025"
BATCH = 2000


@dataclass(frozen=True)
class Window:
    """The seeded period (UTC) and the ranges the tests query."""

    start: datetime
    end: datetime


def default_window(hours: int = 4) -> Window:
    """A past window that contains the 17:00 (10:00 UTC) broadcast of the latest day."""
    now = datetime.now(UTC)
    day = now.date() if now.hour >= 13 else now.date() - timedelta(days=1)
    end = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return Window(end - timedelta(hours=hours), end)


def _msg(device: str, channel: str, body: dict[str, object]) -> tuple[str, bytes]:
    return f"ioc/v1/{COMMUNE}/{device}/{channel}", json.dumps(body).encode()


def scenario(window: Window) -> list[tuple[str, bytes, datetime]]:
    """Messages the random simulation may not produce within a few hours."""
    t = window.start + (window.end - window.start) / 2
    ms = int(t.timestamp() * 1000)
    items = [
        _msg(
            "ts-an-tho-cam03",
            "event",
            {
                "ts": ms,
                "seq": 900001,
                "type": "video_loss",
                "severity": "critical",
                "data": {"channel": 1},
            },
        ),
        _msg(
            "ts-an-tho-spk3",
            "event",
            {
                "ts": ms,
                "seq": 900002,
                "type": "broadcast",
                "data": {"schedule_id": "S-1700", "priority": "normal", "result": "missed"},
            },
        ),
        _msg("ts-core", "telemetry", {"ts": ms, "seq": 900003, "metrics": {"wan": "4g"}}),
        _msg(
            "ts-core",
            "telemetry",
            {"ts": ms + 60_000, "seq": 900004, "metrics": {"wan": "4g", "up": True}},
        ),
        _msg(
            "ts-nvr-01",
            "telemetry",
            {
                "ts": ms,
                "seq": 900005,
                "metrics": {"recording": False, "disk_status": "abnormal", "disk_used_pct": 96.5},
            },
        ),
        (f"ioc/v1/{COMMUNE}/ts-cam-01/telemetry", b"{not json"),
        (f"ioc/v1/{COMMUNE}/ghost-device/telemetry", b'{"ts": 0, "seq": 1, "metrics": {}}'),
    ]
    return [(topic, payload, t) for topic, payload in items]


def ingest_history(conn: psycopg.Connection, window: Window, seed: int = 7) -> int:
    """Replay the simulator's messages through ingest's decoder and writer; returns count."""
    view = load_view(conn)
    prepare(conn)
    limits = Limits(retention_days=400)
    stream = list(messages(load_file(DEMO), window.start, window.end, seed=seed))
    stream += scenario(window)
    batch: list[Item] = []
    for topic, payload, ts in stream:
        batch.append(Item(topic, payload, ts, decode(topic, payload, ts, view, limits)))
        if len(batch) >= BATCH:
            write_items(conn, batch, truncate=True)
            conn.commit()
            batch = []
    if batch:
        write_items(conn, batch, truncate=True)
        conn.commit()
    return len(stream)


REACHABILITY = """
INSERT INTO device_reachability (device_id, state, since, root_cause_id)
SELECT d.id,
       CASE WHEN d.id = 'ts-tho-loc-sw' THEN 'offline'
            WHEN d.parent_id = 'ts-tho-loc-sw' THEN 'unreachable'
            WHEN d.id IN ('ts-cam-05', 'ts-an-tho-cam03') THEN 'offline'
            WHEN d.id = 'ts-an-tho-spk4' THEN 'stale'
            ELSE 'online' END,
       %(since)s,
       CASE WHEN d.parent_id = 'ts-tho-loc-sw' THEN 'ts-tho-loc-sw' END
FROM devices d
ON CONFLICT (device_id) DO UPDATE SET state = excluded.state, since = excluded.since,
    root_cause_id = excluded.root_cause_id
"""

INSERT_ALERT = """
INSERT INTO alerts (fingerprint, rule, kind, severity, state, device_id, commune_code, site_id,
                    device_type, summary, summary_en, started_at, fired_at, resolved_at,
                    acknowledged_at, acknowledged_by, suppressed_by)
SELECT %(fp)s, %(rule)s, %(kind)s, %(severity)s, %(state)s, d.id, d.commune_code, d.site_id,
       d.type, %(summary)s, %(summary)s, %(started)s, %(fired)s, %(resolved)s, %(acked)s,
       %(acked_by)s, %(suppressed_by)s
FROM devices d WHERE d.id = %(device)s
RETURNING id
"""

INSERT_HISTORY = """
INSERT INTO alert_history (alert_id, time, action, actor, note)
VALUES (%(alert)s, %(time)s, %(action)s, %(actor)s, %(note)s)
"""

INSERT_NOTIFICATION = """
INSERT INTO notifications (dedup_key, receiver, channel, group_key, kind, alert_ids, payload,
                           state, attempts, created_at, sent_at, last_error)
VALUES (%(key)s, 'ky-thuat-xa', %(channel)s, 'commune:21025', 'firing', %(ids)s, '{}',
        %(state)s, %(attempts)s, %(created)s, %(sent)s, %(error)s)
"""

INSERT_INSTANCE = """
INSERT INTO ingest_instances (instance, started_at, heartbeat_at, received, written_rows,
                              duplicates, quarantined, last_commit_at, last_batch_ms, lag_ms)
VALUES (%(name)s, now() - interval '2 hours', now(), 120000, 600000, 12, 3, now(), 35.5, 120.0)
ON CONFLICT (instance) DO NOTHING
"""

INSERT_AVAILABILITY = """
INSERT INTO availability_daily (day, device_id, online_s, offline_s, unreachable_s,
                                maintenance_s, unknown_s, complete)
SELECT g.day::date, d.id,
       86400 - CASE WHEN d.id = 'ts-cam-05' THEN 7200 ELSE 300 END - 600,
       CASE WHEN d.id = 'ts-cam-05' THEN 7200 ELSE 300 END, 600, 0, 0, g.day::date < %(today)s
FROM devices d, generate_series(%(first)s::date, %(today)s::date, interval '1 day') AS g(day)
ON CONFLICT (day, device_id) DO NOTHING
"""


def _alerts(conn: psycopg.Connection, window: Window) -> None:
    t0 = window.end - timedelta(hours=2)  # inside the shortest (raw) test range
    specs = [
        (
            "uplink",
            "link_down",
            "state",
            "critical",
            "firing",
            "ts-tho-loc-sw",
            "Mất kết nối Switch Thôn Thọ Lộc Tây",
            None,
            None,
        ),
        (
            "fps",
            "camera_fps_low",
            "threshold",
            "warning",
            "resolved",
            "ts-cam-02",
            "FPS thấp: Camera Sân UBND",
            timedelta(minutes=40),
            timedelta(minutes=10),
        ),
        (
            "vloss",
            "camera_video_loss",
            "event",
            "critical",
            "resolved",
            "ts-an-tho-cam03",
            "Mất hình: Camera Nhà văn hóa Thôn An Thọ",
            timedelta(minutes=90),
            timedelta(minutes=5),
        ),
        (
            "disk",
            "nvr_disk",
            "state",
            "critical",
            "firing",
            "ts-nvr-01",
            "Ổ đĩa bất thường: Đầu ghi UBND 1",
            None,
            timedelta(minutes=20),
        ),
        (
            "bcast",
            "broadcast_missed",
            "event",
            "warning",
            "pending",
            "ts-an-tho-spk3",
            "Bỏ lỡ bản tin: Cụm loa 4G số 3 Thôn An Thọ",
            None,
            None,
        ),
    ]
    root = None
    for i, (fp, rule, kind, sev, state, device, summary, resolve_after, ack_after) in enumerate(
        specs
    ):
        fired = t0 + timedelta(minutes=5 * i)
        params = {
            "fp": f"{fp}:{device}",
            "rule": rule,
            "kind": kind,
            "severity": sev,
            "state": state,
            "device": device,
            "summary": summary,
            "started": fired - timedelta(minutes=2),
            "fired": None if state == "pending" else fired,
            "resolved": fired + resolve_after if resolve_after else None,
            "acked": fired + ack_after if ack_after else None,
            "acked_by": "ky-thuat-xa" if ack_after else None,
            "suppressed_by": None,
        }
        row = conn.execute(INSERT_ALERT, params).fetchone()
        assert row is not None
        alert_id = row[0]
        root = root or alert_id
        conn.execute(
            INSERT_HISTORY,
            {"alert": alert_id, "time": fired, "action": "fired", "actor": None, "note": None},
        )
        if ack_after:
            conn.execute(
                INSERT_HISTORY,
                {
                    "alert": alert_id,
                    "time": fired + ack_after,
                    "action": "acknowledged",
                    "actor": "ky-thuat-xa",
                    "note": "Đang kiểm tra",
                },
            )
        if resolve_after:
            conn.execute(
                INSERT_HISTORY,
                {
                    "alert": alert_id,
                    "time": fired + resolve_after,
                    "action": "resolved",
                    "actor": None,
                    "note": None,
                },
            )
    # A camera behind the failed hamlet switch: suppressed by the root-cause alert.
    conn.execute(
        INSERT_ALERT,
        {
            "fp": "absence:ts-tho-loc-cam01",
            "rule": "device_absent",
            "kind": "absence",
            "severity": "critical",
            "state": "firing",
            "device": "ts-tho-loc-cam01",
            "summary": "Không nhận được báo cáo: Camera Đầu thôn Thôn Thọ Lộc Tây",
            "started": t0,
            "fired": t0 + timedelta(minutes=1),
            "resolved": None,
            "acked": None,
            "acked_by": None,
            "suppressed_by": root,
        },
    )
    for i, (state, attempts, error) in enumerate(
        [
            ("sent", 1, None),
            ("sent", 2, "timeout"),
            ("pending", 0, None),
            ("failed", 8, "HTTP 502 from webhook"),
        ]
    ):
        created = t0 + timedelta(minutes=10 * i)
        conn.execute(
            INSERT_NOTIFICATION,
            {
                "key": f"n{i}",
                "channel": "telegram" if i % 2 else "webhook",
                "ids": [root],
                "state": state,
                "attempts": attempts,
                "created": created,
                "sent": created if state == "sent" else None,
                "error": error,
            },
        )


def seed_database(url: str, window: Window) -> int:
    """Registry, simulated history through ingest, contract-table fixtures, rollups."""
    with psycopg.connect(url) as conn:
        import_registry(conn, load_file(DEMO), str(DEMO))
        conn.commit()
        count = ingest_history(conn, window)
        conn.execute(REACHABILITY, {"since": window.start})
        _alerts(conn, window)
        for name in ("ingest-1", "ingest-2"):
            conn.execute(INSERT_INSTANCE, {"name": name})
        today = local_today()
        conn.execute(INSERT_AVAILABILITY, {"today": today, "first": today - timedelta(days=31)})
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        refresh(conn, storage_setup(retention={"raw_days": 30}), now=datetime.now(UTC))
        conn.execute("ANALYZE")
    return count


def local_today() -> date:
    """Today's date in Vietnam (the dashboards' 'today')."""
    return (datetime.now(UTC) + timedelta(hours=7)).date()
