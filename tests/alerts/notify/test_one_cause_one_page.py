"""Shipped inhibit rules: a camera losing video, or one failed NVR disk, is one page.

The default rules file, the real notifier and a loopback webhook; time is driven.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from api.console.incidents import load as load_incidents
from tests.alerts.conftest import EngineFactory, alerts, event, metric, report_all
from tests.alerts.notify.helpers import HttpReceiver, make_notifier, webhook_config

S = timedelta(seconds=1)
CAMERA = "cam-core"
NVR = "nvr-1"


def console_incidents(db: psycopg.Connection) -> tuple[list[int], dict[int, list[int]]]:
    """Root ids on the console's incidents page and the ids folded under each."""
    params = {
        "scope": None, "commune": None, "site": None, "type": None, "severity": None,
        "state": None, "limit": 50, "offset": 0,
    }  # fmt: skip
    page = load_incidents(db, params)
    folded = {root: [kid.id for kid in kids] for root, kids in page["children"].items()}
    return [r.id for r in page["roots"]], folded


def drive(
    db: psycopg.Connection,
    make_engine: EngineFactory,
    pool: ConnectionPool,
    receiver: HttpReceiver,
    tmp_path: Path,
    t0: datetime,
    seconds: int,
    feed: Callable[[datetime], None],
) -> list[list[tuple[str, str]]]:
    """Run the default rules every 5 s for ``seconds``; the webhook posts' (device, rule)."""
    engine = make_engine()  # the shipped rules file, inhibit rules included
    notifier = make_notifier(pool, tmp_path, webhook_config(receiver.url))
    for second in range(0, seconds, 5):
        at = t0 + second * S
        report_all(db, at)
        feed(at)
        engine.evaluate_once(at)
        notifier.tick(at)
        notifier.deliver(at)
    notifier.close()
    return [
        [(a["device_id"], a["labels"]["rule"]) for a in r.json()["alerts"]]
        for r in receiver.requests
        if r.json()["status"] == "firing"
    ]


def test_a_camera_losing_video_is_one_page_and_one_incident(
    fleet: psycopg.Connection,
    make_engine: EngineFactory,
    pool: ConnectionPool,
    receiver: HttpReceiver,
    tmp_path: Path,
    t0: datetime,
) -> None:
    """fps 0, bit rate 0, stream down, the camera's and the NVR's video-loss events."""
    fleet.execute(
        "UPDATE devices SET metadata = %s WHERE id = %s",
        (Jsonb({"nvr": NVR, "nvr_channel": 2}), CAMERA),
    )
    lost_at = t0 + 30 * S

    def feed(at: datetime) -> None:
        lost = at >= lost_at
        metric(fleet, CAMERA, "fps_configured", 25, at)
        metric(fleet, CAMERA, "bitrate_configured_kbps", 2048, at)
        metric(fleet, CAMERA, "fps", 0 if lost else 25, at)
        metric(fleet, CAMERA, "bitrate_kbps", 0 if lost else 2000, at)
        metric(fleet, CAMERA, "stream_up", 0 if lost else 1, at)
        if at == lost_at:  # the NVR first (its alarm stream), the camera's own a poll later
            event(fleet, NVR, "video_loss", at, {"channel": "02", "state": "active"})
        if at == lost_at + 5 * S:
            event(fleet, CAMERA, "video_loss", at, {"channel": 1})

    pages = drive(fleet, make_engine, pool, receiver, tmp_path, t0, 7 * 60, feed)
    opened = alerts(fleet)
    assert pages == [[(NVR, "camera_video_loss_event")]], pages
    rules = sorted((a["device_id"], a["rule"]) for a in opened)
    assert rules == [
        (CAMERA, "camera_bitrate_low"),
        (CAMERA, "camera_fps_low"),
        (CAMERA, "camera_stream_down"),
        (CAMERA, "camera_video_loss"),
        (CAMERA, "camera_video_loss_event"),
        (NVR, "camera_video_loss_event"),
    ], rules
    (root,) = [a for a in opened if a["suppressed_by"] is None]
    assert all(a["suppressed_by"] == root["id"] for a in opened if a is not root)
    assert {a["annotations"]["inhibit_rule"] for a in opened if a is not root} <= {
        "camera_no_video",
        "nvr_channel_camera",
    }
    roots, folded = console_incidents(fleet)
    assert roots == [root["id"]]
    assert sorted(folded[root["id"]]) == sorted(a["id"] for a in opened if a is not root)


def test_one_failed_nvr_disk_is_one_page(
    fleet: psycopg.Connection,
    make_engine: EngineFactory,
    pool: ConnectionPool,
    receiver: HttpReceiver,
    tmp_path: Path,
    t0: datetime,
) -> None:
    """disk_status smartfailed, the disk_failure and storage_failure events: one incident."""
    failed_at = t0 + 20 * S

    def feed(at: datetime) -> None:
        metric(fleet, NVR, "disk_status", 2 if at >= failed_at else 0, at)  # 2: smartfailed
        if at == failed_at:
            event(fleet, NVR, "storage_failure", at, {"channel": "0", "raw_type": "diskerror"})
        if at == failed_at + 5 * S:
            event(fleet, NVR, "disk_failure", at, {"disk": "2", "status": "smartFailed"})

    pages = drive(fleet, make_engine, pool, receiver, tmp_path, t0, 90, feed)
    assert len(pages) == 1 and len(pages[0]) == 1, pages
    opened = alerts(fleet)
    assert sorted(a["rule"] for a in opened) == [
        "nvr_disk_abnormal",
        "nvr_disk_failure",
        "storage_failure",
    ]
    assert sum(a["suppressed_by"] is None for a in opened) == 1
    roots, _ = console_incidents(fleet)
    assert len(roots) == 1


def test_the_folded_alerts_resolve_with_their_cause(
    fleet: psycopg.Connection,
    make_engine: EngineFactory,
    pool: ConnectionPool,
    receiver: HttpReceiver,
    tmp_path: Path,
    t0: datetime,
) -> None:
    """Video back (and the camera's clearing event): everything resolves, nothing else pages."""
    back_at = t0 + 3 * 60 * S

    def feed(at: datetime) -> None:
        lost = t0 + 10 * S <= at < back_at
        metric(fleet, CAMERA, "fps", 0 if lost else 25, at)
        metric(fleet, CAMERA, "stream_up", 0 if lost else 1, at)
        if at == t0 + 10 * S:
            event(fleet, CAMERA, "video_loss", at, {"channel": 1})
        if at == back_at:
            event(fleet, CAMERA, "video_loss_cleared", at, {"channel": 1}, seq=2)

    pages = drive(fleet, make_engine, pool, receiver, tmp_path, t0, 5 * 60, feed)
    assert pages == [[(CAMERA, "camera_video_loss_event")]], pages
    assert {a["state"] for a in alerts(fleet)} == {"resolved"}
    statuses = [r.json()["status"] for r in receiver.requests]
    assert statuses == ["firing", "resolved"], statuses
