"""The demo's edge part: a collector subprocess behind a relay that a scheduled fault cuts."""

from __future__ import annotations

import psycopg

from demo.edge import COLLECTOR_ID, running_edge
from ingest.service import IngestService
from tests.ingest.conftest import test_settings
from tests.plugins.broker import Mosquitto
from tests.util import wait_until


def _latest(db_url: str) -> dict[tuple[str, str], float]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT device_id, metric, value FROM device_latest").fetchall()
    return {(d, m): v for d, m, v in rows}


def _online(db_url: str, device: str) -> bool | None:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT online FROM device_status WHERE device_id = %s", (device,)
        ).fetchone()
    return row[0] if row else None


def _events(db_url: str, device: str) -> set[str]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT type FROM device_events WHERE device_id = %s", (device,)
        ).fetchall()
    return {r[0] for r in rows}


def test_demo_edge_reports_goes_dark_and_backfills(db_url: str, own_broker: Mosquitto) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO communes (code, name) VALUES ('21025', 'Xã Tịnh Sơn');"
            "INSERT INTO sites (id, commune_code, name) VALUES ('ts-ubnd', '21025', 'UBND')"
        )
    settings, ingest = test_settings(db_url, own_broker.url, topic_prefix="ioc/v1")
    service = IngestService(settings, ingest).start()
    said: list[str] = []
    try:
        with running_edge(
            db_url,
            own_broker.url,
            said.append,
            outage=(6.0, 6.0),
            interval_s=1,
            camera_faults={"video_loss_at_s": 1.0, "disk_at_s": 2.0},
        ) as edge:
            wanted = [("ts-edge-cam-01", "rtt_ms"), ("ts-edge-spk-2", "rsrp_dbm"),
                      (COLLECTOR_ID, "buffer_depth"), ("ts-edge-hik-cam-1", "cpu_pct")]  # fmt: skip
            wait_until(lambda: all(k in _latest(db_url) for k in wanted), 20, 0.2,
                       "edge devices reporting")  # fmt: skip
            # The scripted NVR fault reaches the database (maybe backfilled after the outage).
            wait_until(lambda: "video_loss" in _events(db_url, "ts-edge-hik-nvr-1"), 20, 0.2,
                       "NVR video loss event")  # fmt: skip
            # The relay is cut: the broker publishes the collector's last will.
            wait_until(lambda: _online(db_url, COLLECTOR_ID) is False, 20, 0.2, "last will")
            # Back: birth, and the readings taken meanwhile arrive.
            wait_until(lambda: _online(db_url, COLLECTOR_ID) is True, 20, 0.2, "birth again")
            with psycopg.connect(db_url) as conn:
                cut = conn.execute(
                    "SELECT max(time) FROM device_status_changes "
                    "WHERE device_id = %s AND NOT online", (COLLECTOR_ID,),
                ).fetchone()  # fmt: skip
                assert cut is not None and cut[0] is not None

                def backfilled() -> bool:
                    row = conn.execute(
                        "SELECT count(*) FROM telemetry WHERE device_id = 'ts-edge-cam-01' "
                        "AND metric = 'online' AND time > %s AND time < %s + interval '4 s'",
                        (cut[0], cut[0]),
                    ).fetchone()  # fmt: skip
                    return bool(row and row[0] >= 2)

                wait_until(backfilled, 20, 0.2, "readings of the outage backfilled")
    finally:
        service.stop()
    assert any("cut off from the broker" in line for line in said)
    assert not any(edge.camera_password in line for line in said)
