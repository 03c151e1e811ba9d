"""A registry whose devices speak only ICMP, SNMP and a vendor JSON API, end to end:
inventory → ``ioc collector run`` → MQTT → real ingest → PostgreSQL → default alert rules → API.
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
from api import security
from ingest.service import IngestService
from ioc.ports import free_port
from tests.api.conftest import LiveServer, api_setup
from tests.collector.conftest import COMMUNITY, Snmpd
from tests.collector.harness import CollectorProcess, import_inventory
from tests.collector.vendor import TOKEN, VendorPlatform
from tests.ingest.conftest import test_settings
from tests.plugins.broker import Mosquitto
from tests.util import wait_until


def inventory(snmp_port: int, vendor: str, webhook_port: int) -> str:
    speaker_map = (
        "metrics: {rsrp_dbm: {path: lte.rsrp}, state: {path: player.mode, "
        'map: {"0": idle, "1": playing}}, mains_ok: {path: power.ac, map: {"on": true, '
        '"off": false}}}'
    )
    return f"""
communes:
  - {{code: "21025", name: "Xã Tịnh Sơn", sites: [{{id: ts-ubnd, name: "UBND xã"}}]}}
devices:
  - {{id: col-1, type: collector, commune: "21025", site: ts-ubnd, name: "Bộ thu thập",
     interval_s: 1}}
  - {{id: ts-uplink, type: link, commune: "21025", site: ts-ubnd, name: "Cáp quang",
     address: 127.0.0.1, collector: col-1, interval_s: 1,
     checks: {{ping: {{count: 2, spacing_s: 0.05}},
              snmp: {{port: {snmp_port}, community_env: SNMP_COMMUNITY, if_index: 1}}}}}}
  - {{id: ts-ups, type: ups, commune: "21025", site: ts-ubnd, name: "Tủ mạng",
     address: 127.0.0.1, collector: col-1, interval_s: 1,
     checks: {{snmp: {{port: {snmp_port}, community_env: SNMP_COMMUNITY}}}}}}
  - {{id: ts-cam-01, type: camera, commune: "21025", site: ts-ubnd, name: "Camera cổng",
     parent: ts-uplink, address: 127.0.0.2, collector: col-1, interval_s: 1,
     checks: {{ping: {{count: 1}}}}}}
  - {{id: ts-spk-01, type: speaker, commune: "21025", name: "Loa thôn 1", address: 127.0.0.1,
     collector: col-1, interval_s: 1,
     checks: {{http_json: {{url: "{vendor}/api/clusters/1",
                           auth: {{type: bearer, token_env: VENDOR_TOKEN}}, {speaker_map}}}}}}}
  - {{id: ts-spk-02, type: speaker, commune: "21025", name: "Loa thôn 2", address: 127.0.0.1,
     collector: col-1, interval_s: 1,
     checks: {{http_json: {{webhook_id: cluster-2, webhook_token_env: HOOK_TOKEN, {speaker_map}}}}}}}
  - {{id: ts-spk-03, type: speaker, commune: "21025", name: "Loa thôn 3", address: 127.0.0.1,
     collector: col-1, interval_s: 1,
     checks: {{http_json: {{url: "{vendor}/garbage", {speaker_map}}}}}}}
"""


@pytest.fixture
def stack(
    db_url: str, own_broker: Mosquitto, snmpd: Snmpd, tmp_path: Path
) -> Iterator[tuple[CollectorProcess, int]]:
    with VendorPlatform() as vendor:
        webhook_port = free_port()
        text = inventory(snmpd.port, vendor.url, webhook_port)
        import_inventory(db_url, text)
        settings, ingest = test_settings(db_url, own_broker.url, topic_prefix="ioc/v1")
        service = IngestService(settings, ingest).start()
        proc = CollectorProcess(
            tmp_path,
            text,
            own_broker.url,
            secrets={"SNMP_COMMUNITY": COMMUNITY, "VENDOR_TOKEN": TOKEN, "HOOK_TOKEN": TOKEN},
            ioc_collector_webhook_port=webhook_port,
            ioc_collector_webhook_host="127.0.0.1",
        )
        try:
            yield proc.start(), webhook_port
        finally:
            proc.stop()
            service.stop()


def latest(db_url: str) -> dict[tuple[str, str], float]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT device_id, metric, value FROM device_latest").fetchall()
    return {(d, m): v for d, m, v in rows}


def test_icmp_snmp_and_vendor_json_end_to_end(
    stack: tuple[CollectorProcess, int], db_url: str, db: psycopg.Connection, mqtt_url: str
) -> None:
    proc, webhook_port = stack
    wait_until(
        lambda: ("ts-uplink", "util_in_pct") in latest(db_url),
        20,
        0.2,
        "link utilisation from two SNMP counter readings",
    )
    # The vendor platform pushes a cluster's state (4G, behind carrier NAT).
    hook = f"http://127.0.0.1:{webhook_port}/hooks/cluster-2"
    wait_until(
        lambda: _post(hook, {"lte": {"rsrp": -101}, "player": {"mode": 0}}) == 202,
        10,
        0.2,
        "webhook receiver up",
    )
    assert _post(hook, {"player": {"mode": 7}}) == 422  # a state the mapping does not know
    assert _post(f"http://127.0.0.1:{webhook_port}/hooks/nobody", {}) == 404
    values = wait_until(lambda: _all_in(latest(db_url)), 20, 0.2, "every device's metrics")
    assert values[("ts-uplink", "up")] == 1
    assert values[("ts-uplink", "online")] == 1 and values[("ts-uplink", "rtt_ms")] > 0
    assert values[("ts-cam-01", "loss_pct")] == 0
    assert values[("ts-ups", "on_battery")] == 1 and values[("ts-ups", "battery_minutes")] == 7
    assert values[("ts-spk-01", "rsrp_dbm")] == -96
    assert values[("ts-spk-02", "rsrp_dbm")] == -101
    assert values[("col-1", "devices_watched")] == 6
    errors = wait_until(lambda: _check_errors(db_url, 2), 10, 0.2, "two check_error events")
    with psycopg.connect(db_url) as conn:
        quarantined = conn.execute("SELECT count(*) FROM quarantine").fetchone()
    assert errors["ts-spk-03"].endswith("bytes is not JSON") and "html" not in errors["ts-spk-03"]
    assert "not in its map" in errors["ts-spk-02"]
    assert quarantined == (0,)

    # The default rules page the UPS on battery with 7 minutes left.
    pool = ConnectionPool(db_url, min_size=1, max_size=2, open=True)
    try:
        engine = AlertEngine(
            AlertSettings(pipeline_silence_s=0, pipeline_heartbeat_s=0),
            pool,
        )
        engine.evaluate_once()
        engine.evaluate_once()
        firing = {
            r
            for (r,) in db.execute(
                "SELECT rule FROM alerts WHERE device_id = 'ts-ups' AND state = 'firing'"
            )
        }
        assert {"ups_on_battery", "ups_battery_low"} <= firing
        summary = db.execute("SELECT summary FROM alerts WHERE rule = 'ups_battery_low'").fetchone()
        assert summary == ("Bộ lưu điện (UPS) Tủ mạng tại UBND xã chỉ còn 7 phút ắc quy",)
        engine.stop()
    finally:
        pool.close()

    # The check error is visible through the API.
    token = security.create_user(db, "op", "operator", [], 30)[0]
    settings = api_setup(database_url=db_url, mqtt_url=mqtt_url, db_pool_size=2)
    with LiveServer(settings) as server:
        resp = httpx.get(
            f"{server.url}/api/v1/devices/ts-spk-03/events",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    assert resp.status_code == 200, resp.text
    assert "check_error" in resp.text and "not JSON" in resp.text
    assert proc.alive()


NEEDED = [
    ("ts-uplink", "up"),
    ("ts-uplink", "rtt_ms"),
    ("ts-cam-01", "loss_pct"),
    ("ts-ups", "on_battery"),
    ("ts-ups", "battery_minutes"),
    ("ts-spk-01", "rsrp_dbm"),
    ("ts-spk-02", "rsrp_dbm"),
    ("col-1", "devices_watched"),
    ("ts-uplink", "online"),
]


def _all_in(values: dict[tuple[str, str], float]) -> dict[tuple[str, str], float] | None:
    return values if all(k in values for k in NEEDED) else None


def _check_errors(db_url: str, n: int) -> dict[str, str] | None:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT device_id, data->>'reason' FROM device_events WHERE type = 'check_error'"
        ).fetchall()
    return dict(rows) if len(rows) >= n else None


def _post(url: str, body: object) -> int:
    try:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        return httpx.post(url, json=body, timeout=5, headers=auth).status_code
    except httpx.HTTPError:
        return 0
