"""Device state, downsampled telemetry (raw and rollups), events."""

from __future__ import annotations

from datetime import timedelta


def test_state(client, world, as_user):
    r = client.get("/api/v1/devices/a-cam-1/state", headers=as_user("operator"))
    assert r.status_code == 200, r.text
    state = r.json()
    assert state["state"] == "unreachable" and state["root_cause_id"] == "a-uplink"
    assert state["online"] is False and state["last_seen"].endswith("+00:00")
    assert (
        state["latest"]
        == [{"metric": "fps", "value": 24.0, "time": state["latest"][0]["time"], "unit": "fps"}]
        or state["latest"][0]["metric"] == "fps"
    )
    assert [a["id"] for a in state["open_alerts"]] == [world.alerts["a_child"]]
    assert state["open_alerts"][0]["suppressed"] is True


def test_telemetry_raw(client, world, as_user):
    params = {
        "metric": "fps",
        "from": (world.now - timedelta(hours=3, minutes=30)).isoformat(),
        "to": world.now.isoformat(),
        "step": 600,
    }
    raw = client.get(
        "/api/v1/devices/a-cam-1/telemetry",
        params={**params, "step": 120},
        headers=as_user("operator"),
    )
    assert raw.json()["source"] == "raw"
    assert sum(p["count"] for p in raw.json()["series"][0]["points"]) == 180
    r = client.get("/api/v1/devices/a-cam-1/telemetry", params=params, headers=as_user("operator"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "telemetry_5m" and body["step_s"] == 600
    assert body["from"] == params["from"]
    points = body["series"][0]["points"]
    assert sum(p["count"] for p in points) == 180
    assert all(20 <= p["min"] <= p["avg"] <= p["max"] <= 24 for p in points)
    # Default range (24 h) and automatic step, sized from where the data begins (3.5 h ago).
    r = client.get(
        "/api/v1/devices/a-cam-1/telemetry", params={"metric": "fps"}, headers=as_user("operator")
    )
    assert (
        r.json()["step_s"] == 30 and sum(p["count"] for p in r.json()["series"][0]["points"]) == 180
    )


def test_long_range_over_recent_data_still_has_points(client, world, as_user):
    """`from=<months ago>` on a device reporting for hours: points, not one daily bucket."""
    params = {"metric": "fps", "from": (world.now - timedelta(days=300)).isoformat()}
    r = client.get("/api/v1/devices/a-cam-1/telemetry", params=params, headers=as_user("operator"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["from"] == params["from"]  # the range asked for is kept
    points = body["series"][0]["points"]
    assert body["step_s"] <= 60 and len(points) >= 100
    assert sum(p["count"] for p in points) == 180


def test_telemetry_limits(client, world, as_user):
    h = as_user("operator")
    url = "/api/v1/devices/a-cam-1/telemetry"
    r = client.get(url, params={"metric": "fps", "step": 1}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "step"]
    assert "use step >= 44" in r.json()["detail"][0]["msg"]
    r = client.get(url, params={"metric": "rsrp_dbm"}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "metric"]
    r = client.get(url, params={"metric": "fps", "from": "2020-01-01T00:00:00+07:00"}, headers=h)
    assert r.status_code == 422 and "at most 400 days" in r.json()["detail"][0]["msg"]
    r = client.get(url, params={"metric": "fps", "from": "2026-01-01T00:00:00"}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "from"]
    r = client.get(url, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "metric"]


def test_telemetry_uses_rollups_for_long_steps(client, world, as_user, db):
    db.execute(
        "INSERT INTO telemetry_points (time, value, device_key, metric_id) "
        "SELECT %(t)s - interval '10 days' + make_interval(mins => g), g %% 7, d.key, m.id "
        "FROM generate_series(0, 119) g, devices d, metrics m "
        "WHERE d.id = 'a-cam-1' AND m.name = 'fps'",
        {"t": world.now.replace(minute=0, second=0)},
    )
    params = {
        "metric": "fps",
        "from": (world.now - timedelta(days=30)).isoformat(),
        "to": world.now.isoformat(),
        "step": 7200,
    }
    url = "/api/v1/devices/a-cam-1/telemetry"
    r = client.get(url, params=params, headers=as_user("operator"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "telemetry_1h"
    points = body["series"][0]["points"]
    assert sum(p["count"] for p in points) == 120 + 180
    old = [p for p in points if p["min"] == 0]
    assert sum(p["count"] for p in old) == 120 and max(p["max"] for p in old) == 6
    r = client.get(url, params={**params, "step": 1800}, headers=as_user("operator"))
    assert r.json()["source"] == "telemetry_5m"
    assert sum(p["count"] for p in r.json()["series"][0]["points"]) == 300
    r = client.get(url, params={**params, "step": 2000}, headers=as_user("operator"))
    assert r.json()["source"] == "raw"
    assert sum(p["count"] for p in r.json()["series"][0]["points"]) == 300


def test_events(client, world, as_user):
    r = client.get("/api/v1/devices/b-cam-1/events", headers=as_user("operator"))
    assert r.status_code == 200
    event = r.json()["data"][0]
    assert event["type"] == "tamper" and event["data"] == {"note": "che khuất ống kính"}
    r = client.get(
        "/api/v1/devices/b-cam-1/events", params={"type": "video_loss"}, headers=as_user("operator")
    )
    assert r.json()["count"] == 0
