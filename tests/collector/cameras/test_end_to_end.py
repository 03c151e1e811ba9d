"""Cameras and NVRs through the whole path: fakes + a real RTSP server -> `ioc collector run`
-> private mosquitto -> real ingest -> PostgreSQL, with nothing quarantined.

A Hikvision NVR (ISAPI + alertStream), a Dahua camera (CGI) and a camera whose stream is served
by GStreamer's RTSP server; then a disk fails, a channel loses video and the RTSP service goes
away, and each shows up as rows of the catalogue's metrics and events.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from alerts.engine import AlertEngine
from alerts.settings import AlertSettings
from ingest.service import IngestService
from ioc.ports import free_port
from simulators.vendors.dahua import FakeDahua
from simulators.vendors.hikvision import FakeHikvision
from tests.collector.harness import CollectorProcess, import_inventory
from tests.ingest.conftest import test_settings
from tests.plugins.broker import Mosquitto
from tests.util import wait_until

from .conftest import PASSWORD, USER, RtspServer, start_rtsp

COMMUNE = "31018"


def inventory(nvr: int, dahua: int, rtsp: int) -> str:
    common = f'commune: "{COMMUNE}", site: s1, address: 127.0.0.1, collector: col-cam'
    return f"""
communes:
  - {{code: "{COMMUNE}", name: "Xã Thử Nghiệm", sites: [{{id: s1, name: "UBND"}}]}}
devices:
  - {{id: col-cam, type: collector, commune: "{COMMUNE}", site: s1, name: "Bộ thu thập",
     interval_s: 1}}
  - {{id: nvr-01, type: nvr, {common}, interval_s: 1,
     checks: {{hikvision: {{port: {nvr}, username: {USER}, password_env: CAM_PASS,
                            timeout_s: 2, heartbeat_timeout_s: 5}}}}}}
  - {{id: cam-dh, type: camera, {common}, interval_s: 1,
     checks: {{dahua: {{port: {dahua}, username: {USER}, password_env: CAM_PASS,
                        timeout_s: 2, events: false}}}}}}
  - {{id: cam-rt, type: camera, {common}, interval_s: 2,
     checks: {{rtsp: {{port: {rtsp}, path: /Streaming/Channels/101, username: {USER},
                       password_env: CAM_PASS, timeout_s: 1.5, sample_every_s: 4,
                       sample_s: 1}}}}}}
"""


@pytest.fixture
def rig(
    db_url: str, own_broker: Mosquitto, tmp_path: Path
) -> Iterator[tuple[str, FakeHikvision, FakeDahua, RtspServer, CollectorProcess]]:
    nvr = FakeHikvision(USER, PASSWORD, nvr=True, heartbeat_s=0.5).start()
    cam = FakeDahua(USER, PASSWORD).start()
    rtsp = start_rtsp(fps=10)
    text = inventory(nvr.port, cam.port, rtsp.port)
    import_inventory(db_url, text)
    settings, ingest = test_settings(
        db_url, own_broker.url, topic_prefix="ioc/v1", seq_gap_hold_s=600
    )
    service = IngestService(settings, ingest).start()
    wait_until(service.consumer.connected.is_set, 10, message="ingest subscribed")
    proc = CollectorProcess(
        tmp_path,
        text,
        own_broker.url,
        secrets={"CAM_PASS": PASSWORD},
        ioc_collector_id="col-cam",
        ioc_collector_push_allow="127.0.0.1/32",
        ioc_collector_webhook_port=free_port(),
        ioc_collector_webhook_host="127.0.0.1",
    )
    proc.start()
    try:
        yield db_url, nvr, cam, rtsp, proc
    finally:
        proc.stop()
        service.stop()
        rtsp.proc.terminate()
        rtsp.proc.wait(10)
        nvr.stop()
        cam.stop()


def latest(db_url: str, device: str, metric: str) -> float | None:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT value FROM telemetry WHERE device_id = %(d)s AND metric = %(m)s "
            "ORDER BY time DESC LIMIT 1",
            {"d": device, "m": metric},
        ).fetchone()
    return None if row is None else float(row[0])


def events(db_url: str, device: str, etype: str) -> list[dict[str, object]]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT data FROM device_events WHERE device_id = %(d)s AND type = %(t)s ORDER BY time",
            {"d": device, "t": etype},
        ).fetchall()
    return [r[0] for r in rows]


def alerts(db_url: str, state: str) -> set[tuple[str, str]]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT device_id, rule FROM alerts WHERE state = %(s)s", {"s": state}
        ).fetchall()
    return {(d, r) for d, r in rows}


def quarantined(db_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT topic, reason FROM quarantine").fetchall()


def test_cameras_and_nvr_through_collector_and_ingest(rig) -> None:  # type: ignore[no-untyped-def]
    db_url, nvr, cam, rtsp, proc = rig
    ok = "collector log:\n" + proc.log_text()[-3000:]
    wait_until(
        lambda: latest(db_url, "nvr-01", "disk_status") is not None,
        30,
        message="NVR disk status stored " + ok,
    )
    wait_until(
        lambda: latest(db_url, "cam-rt", "fps") not in (None, 0.0),
        30,
        message="measured fps stored",
    )
    assert 6 <= (latest(db_url, "cam-rt", "fps") or 0) <= 13
    assert latest(db_url, "cam-rt", "stream_up") == 1
    assert latest(db_url, "nvr-01", "channels_recording") == 4
    assert latest(db_url, "nvr-01", "cpu_pct") == 12
    wait_until(lambda: nvr.stream_count() == 1, 20, message="alertStream open")

    nvr.alert("videoloss", "active", "2")
    nvr.state.disks[0].status = "smartFailed"
    cam.state.serial = "6J0ABC1PAZ77777"
    wait_until(lambda: events(db_url, "nvr-01", "video_loss"), 20, message="video_loss stored")
    wait_until(lambda: events(db_url, "nvr-01", "disk_failure"), 20, message="disk_failure")
    wait_until(lambda: events(db_url, "cam-dh", "device_changed"), 20, message="swap")
    assert events(db_url, "nvr-01", "video_loss")[0]["channel"] == "2"
    assert events(db_url, "nvr-01", "disk_failure")[0]["status"] == "smartfailed"
    # disk_status is an enum stored as its label's index: smartfailed is 2nd of 4 labels.
    wait_until(
        lambda: latest(db_url, "nvr-01", "disk_status") == 2.0,
        20,
        message="disk_status smartfailed",
    )

    # The same XML pushed by an NVR configured with an HTTP alarm host.
    port = int(proc.env["IOC_COLLECTOR_WEBHOOK_PORT"])
    push = nvr.alert_xml("recordingfailure", "active", "4")
    resp = httpx.post(
        f"http://127.0.0.1:{port}/hikvision",
        content=push,
        headers={"Content-Type": "application/xml"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    bad = httpx.post(
        f"http://127.0.0.1:{port}/hikvision",
        content=b"<EventNotificationAlert>",
        headers={"Content-Type": "application/xml"},
        timeout=10,
    )
    assert bad.status_code == 400
    wait_until(
        lambda: events(db_url, "nvr-01", "recording_stopped"),
        20,
        message="pushed recording_stopped stored",
    )
    wait_until(
        lambda: [
            e
            for e in events(db_url, "nvr-01", "check_error")
            if "alarm host push" in str(e.get("reason"))
        ],
        20,
        message="unreadable push reported as the NVR's check_error",
    )

    # The default rules turn these into alerts; the device's "inactive" resolves video loss.
    pool = ConnectionPool(db_url, min_size=1, max_size=2, open=True)
    try:
        engine = AlertEngine(
            AlertSettings(pipeline_silence_s=0, pipeline_heartbeat_s=0),
            pool,
            notify=None,
        )
        engine.evaluate_once()
        assert {
            ("nvr-01", "camera_video_loss_event"),
            ("nvr-01", "nvr_disk_failure"),
            ("nvr-01", "nvr_disk_abnormal"),
            ("nvr-01", "recording_stopped"),
            ("cam-dh", "device_swapped"),
        } <= alerts(db_url, "firing")
        nvr.alert("videoloss", "inactive", "2")
        wait_until(
            lambda: events(db_url, "nvr-01", "video_loss_cleared"),
            20,
            message="video_loss_cleared stored",
        )
        engine.evaluate_once()
        assert ("nvr-01", "camera_video_loss_event") in alerts(db_url, "resolved")
        assert ("nvr-01", "nvr_disk_failure") in alerts(db_url, "firing")
        engine.stop()
    finally:
        pool.close()

    rtsp.proc.terminate()  # the camera's RTSP service dies: stream down within 2 polls
    wait_until(lambda: latest(db_url, "cam-rt", "stream_up") == 0, 10, message="stream down")
    assert quarantined(db_url) == []
