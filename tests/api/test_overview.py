"""The IOC wall: counts per type and state, incidents, availability today."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tests.api.conftest import A


def test_overview_counts(client, world, as_user):
    r = client.get("/api/v1/overview", params={"commune": A}, headers=as_user("operator"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["devices"] == 4 and body["generated_at"].endswith("+00:00")
    by_type = {t["type"]: t for t in body["by_type"]}
    assert by_type["camera"]["unreachable"] == 2 and by_type["camera"]["total"] == 2
    assert by_type["link"]["offline"] == 1 and by_type["speaker"]["online"] == 1
    # The suppressed child is not an open incident of its own.
    sev = {s["severity"]: s for s in body["by_severity"]}
    assert sev["critical"] == {
        "severity": "critical",
        "open": 1,
        "unacknowledged": 1,
        "suppressed": 1,
    }
    assert body["open_incidents"] == 2
    everything = client.get("/api/v1/overview", headers=as_user("operator")).json()
    assert everything["devices"] == 6 and everything["open_incidents"] == 3
    assert (
        client.get(
            "/api/v1/overview", params={"commune": "99999"}, headers=as_user("operator")
        ).status_code
        == 404
    )


def test_availability_today(client, world, as_user, db):
    av = client.get("/api/v1/overview", params={"commune": A}, headers=as_user("operator")).json()[
        "availability_today"
    ]
    assert av["source"] == "reachability_changes"
    assert (
        av["day"] == datetime.now(UTC).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
    )
    types = {t["type"]: t for t in av["by_type"]}
    # Online speaker: 100 %; offline link: 0 %; unreachable cameras count neither way.
    assert types["speaker"]["percent"] == 100.0 and types["link"]["percent"] == 0.0
    assert types["camera"]["percent"] is None
    assert av["percent"] == 50.0
    db.execute(
        "INSERT INTO availability_daily (day, device_id, online_s, offline_s) "
        "VALUES (%s, 'a-cam-1', 900, 100), (%s, 'a-cam-2', 100, 900)",
        (av["day"], av["day"]),
    )
    av = client.get("/api/v1/overview", params={"commune": A}, headers=as_user("operator")).json()[
        "availability_today"
    ]
    assert av["source"] == "availability_daily" and av["percent"] == 50.0
    assert av["by_type"] == [{"type": "camera", "percent": 50.0, "up_s": 1000.0, "down_s": 1000.0}]


def test_monthly_availability_report(client, world, as_user):
    r = client.get("/api/v1/reports/availability", params={"commune": A}, headers=as_user("op_a"))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["commune_name"] == "Xã Tịnh Sơn" and report["partial"] is True
    assert {d["device_id"] for d in report["devices"]} == {
        "a-uplink",
        "a-cam-1",
        "a-cam-2",
        "a-spk-1",
    }
    r = client.get(
        "/api/v1/reports/availability", params={"commune": "21026"}, headers=as_user("op_a")
    )
    assert r.status_code == 404
    r = client.get(
        "/api/v1/reports/availability",
        params={"commune": A, "month": "2026-13"},
        headers=as_user("op_a"),
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "month"]
    r = client.get(
        "/api/v1/reports/availability",
        params={"commune": A, "month": "2999-01"},
        headers=as_user("op_a"),
    )
    assert r.status_code == 422
