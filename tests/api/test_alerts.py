"""Alerts (filters, timeline, ack, assign) and silences (create, list, expire, scope)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.conftest import A, B


def ids(client, headers, **params):
    r = client.get("/api/v1/alerts", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return sorted(a["id"] for a in r.json()["data"])


def test_alert_filters(client, world, as_user, db):
    h = as_user("operator")
    al = world.alerts
    assert ids(client, h) == sorted(al.values())
    assert ids(client, h, state="suppressed") == [al["a_child"]]
    assert ids(client, h, state="firing") == sorted([al["a_root"], al["a_warn"], al["b_root"]])
    assert ids(client, h, severity="warning") == [al["a_warn"]]
    assert ids(client, h, severity=["warning", "critical"], commune=B) == [al["b_root"]]
    assert ids(client, h, device="a-spk-1") == [al["a_warn"]]
    db.execute(
        "UPDATE alerts SET state = 'resolved', resolved_at = now() - interval '40 minutes' WHERE id = %s",
        (al["a_warn"],),
    )
    assert ids(client, h, state="resolved") == [al["a_warn"]]
    assert al["a_warn"] not in ids(client, h, state="open")
    since = (datetime.now(UTC) - timedelta(minutes=20)).isoformat()
    assert al["a_warn"] not in ids(client, h, **{"from": since})
    before = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    assert ids(client, h, to=before) == []
    r = client.get("/api/v1/alerts", params={"state": "asleep"}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "state"]


def test_alert_detail_ack_assign(client, world, as_user, db):
    alert = world.alerts["a_root"]
    r = client.get(f"/api/v1/alerts/{alert}", headers=as_user("operator"))
    assert r.status_code == 200
    assert r.json()["summary"] == "Thiết bị mất kết nối"
    assert [t["action"] for t in r.json()["timeline"]] == ["firing"]
    note = "Đã cử kỹ thuật viên kiểm tra cáp quang"
    r = client.post(f"/api/v1/alerts/{alert}/ack", json={"note": note}, headers=as_user("tech_a"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["acknowledged_by"] == "tech_a" and body["ack_note"] == note
    assert body["acknowledged_at"].endswith("+00:00")
    assert body["timeline"][-1]["action"] == "acknowledged" and body["timeline"][-1]["note"] == note
    r = client.post(
        f"/api/v1/alerts/{alert}/assign",
        json={"assignee": "tech_a"},
        headers=as_user("tech"),
    )
    assert r.json()["assignee"] == "tech_a"
    r = client.post(
        f"/api/v1/alerts/{alert}/assign", json={"assignee": None}, headers=as_user("tech")
    )
    assert r.json()["assignee"] is None
    r = client.post(f"/api/v1/alerts/{alert}/assign", json={"who": "x"}, headers=as_user("tech"))
    assert r.status_code == 422 and {tuple(e["loc"]) for e in r.json()["detail"]} >= {
        ("body", "who")
    }
    db.execute("UPDATE alerts SET state = 'resolved' WHERE id = %s", (alert,))
    r = client.post(f"/api/v1/alerts/{alert}/ack", json={}, headers=as_user("tech"))
    assert r.status_code == 409 and "resolved" in r.json()["detail"]
    assert client.get("/api/v1/alerts/999999", headers=as_user("tech")).status_code == 404
    audit = client.get("/api/v1/audit", params={"object_type": "alert"}, headers=as_user("admin"))
    assert [(e["actor"], e["action"]) for e in audit.json()["data"]] == [
        ("tech", "assigned"),
        ("tech", "assigned"),
        ("tech_a", "acknowledged"),
    ]
    assert audit.json()["data"][2]["details"] == {"note": note, "channel": "api"}


def test_silences(client, world, as_user):
    ends = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    body = {
        "matchers": [
            {"label": "commune", "op": "=", "value": A},
            {"label": "type", "op": "=~", "value": "camera|nvr"},
        ],
        "ends_at": ends,
        "comment": "Bảo trì cáp quang thôn An Thọ",
    }
    r = client.post("/api/v1/silences", json=body, headers=as_user("tech_a"))
    assert r.status_code == 201, r.text
    mine = r.json()
    assert mine["created_by"] == "tech_a" and mine["state"] == "active"
    assert mine["comment"] == "Bảo trì cáp quang thôn An Thọ"
    # Outside the technician's communes, or not confined to a commune at all: refused.
    r = client.post(
        "/api/v1/silences",
        json={**body, "matchers": [{"label": "commune", "value": B}]},
        headers=as_user("tech_a"),
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == [
        "body",
        "matchers",
        "0",
        "value",
    ]
    r = client.post(
        "/api/v1/silences",
        json={**body, "matchers": [{"label": "device", "value": "b-cam-1"}]},
        headers=as_user("tech_a"),
    )
    assert r.status_code == 422
    r = client.post(
        "/api/v1/silences",
        json={**body, "matchers": [{"label": "type", "value": "camera"}]},
        headers=as_user("tech_a"),
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "matchers"]
    r = client.post(
        "/api/v1/silences",
        json={**body, "matchers": [{"label": "device", "value": "a-cam-1"}]},
        headers=as_user("tech_a"),
    )
    assert r.status_code == 201
    # A global technician may silence anything; a maintenance window recurring nightly.
    nightly = {
        **body,
        "matchers": [{"label": "site", "value": "b-ubnd"}],
        "recurrence": {"start": "02:00", "end": "03:00"},
    }
    r = client.post("/api/v1/silences", json=nightly, headers=as_user("tech"))
    assert r.status_code == 201 and r.json()["recurrence"]["start"] == "02:00:00"
    b_silence = r.json()["id"]
    # Bad input names the field.
    r = client.post(
        "/api/v1/silences",
        json={**body, "ends_at": "2020-01-01T00:00:00Z"},
        headers=as_user("tech"),
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "ends_at"]
    r = client.post(
        "/api/v1/silences",
        json={**body, "matchers": [{"label": "rule", "op": "=~", "value": "("}]},
        headers=as_user("tech"),
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][:3] == ["body", "matchers", 0]
    r = client.post(
        "/api/v1/silences",
        json={**body, "matchers": [{"label": "colour", "value": "x"}]},
        headers=as_user("tech"),
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "matchers", 0, "label"]
    assert (
        client.post("/api/v1/silences", json=body, headers=as_user("operator")).status_code == 403
    )
    # Lists and objects per scope.
    listed = client.get("/api/v1/silences", headers=as_user("tech_a")).json()
    assert listed["count"] == 2 and b_silence not in [s["id"] for s in listed["data"]]
    assert client.get("/api/v1/silences", headers=as_user("operator")).json()["count"] == 3
    assert client.get(f"/api/v1/silences/{b_silence}", headers=as_user("tech_a")).status_code == 404
    assert (
        client.delete(f"/api/v1/silences/{b_silence}", headers=as_user("tech_a")).status_code == 404
    )
    r = client.delete(f"/api/v1/silences/{mine['id']}", headers=as_user("tech_a"))
    assert r.status_code == 200 and r.json()["state"] == "expired" and r.json()["expired_at"]
    r = client.get("/api/v1/silences", params={"state": "active"}, headers=as_user("operator"))
    assert mine["id"] not in [s["id"] for s in r.json()["data"]]
    actions = [
        e["action"]
        for e in client.get(
            "/api/v1/audit", params={"object_type": "silence"}, headers=as_user("admin")
        ).json()["data"]
    ]
    assert actions == ["expire", "create", "create", "create"]
