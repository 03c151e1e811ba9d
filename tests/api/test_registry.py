"""Communes, sites and devices: list, filters, pagination, create, update, decommission, import."""

from __future__ import annotations

from tests.api.conftest import A, B


def test_communes_and_sites(client, world, as_user):
    admin = as_user("admin")
    r = client.get("/api/v1/communes", headers=admin)
    assert [c["code"] for c in r.json()["data"]] == [A, B]
    assert r.json()["data"][0]["name"] == "Xã Tịnh Sơn"
    assert r.json()["data"][0]["devices"] == 4
    r = client.get("/api/v1/communes", params={"q": "tịnh hà"}, headers=admin)
    assert [c["code"] for c in r.json()["data"]] == [B]
    assert client.get(f"/api/v1/communes/{B}", headers=admin).json()["sites"] == 1
    body = {"code": "21999", "name": "Xã Đức Phổ", "province": "Quảng Ngãi"}
    r = client.post("/api/v1/communes", json=body, headers=admin)
    assert r.status_code == 201 and r.json()["name"] == "Xã Đức Phổ"
    assert client.post("/api/v1/communes", json=body, headers=admin).status_code == 409
    r = client.patch("/api/v1/communes/21999", json={"name": "Phường Đức Phổ"}, headers=admin)
    assert r.status_code == 200 and r.json()["name"] == "Phường Đức Phổ"
    site = {"id": "dp-ubnd", "commune_code": "21999", "name": "UBND phường", "lat": 14.8}
    r = client.post("/api/v1/sites", json=site, headers=admin)
    assert r.status_code == 201 and r.json()["lat"] == 14.8
    r = client.post(
        "/api/v1/sites", json={**site, "id": "x", "commune_code": "11111"}, headers=admin
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "commune_code"]
    r = client.patch("/api/v1/sites/dp-ubnd", json={"name": "Trụ sở"}, headers=admin)
    assert r.json()["name"] == "Trụ sở"
    r = client.get("/api/v1/sites", params={"commune": "21999"}, headers=admin)
    assert [s["id"] for s in r.json()["data"]] == ["dp-ubnd"]
    assert client.get("/api/v1/sites/a-ubnd", headers=admin).json()["devices"] == 4
    actions = {
        (e["object_type"], e["action"])
        for e in client.get("/api/v1/audit", headers=admin).json()["data"]
    }
    assert actions == {
        ("commune", "create"),
        ("commune", "update"),
        ("site", "create"),
        ("site", "update"),
    }


def test_device_list_filters_and_pagination(client, world, as_user):
    admin = as_user("admin")

    def ids(**params):
        r = client.get("/api/v1/devices", params=params, headers=admin)
        assert r.status_code == 200, r.text
        return [d["id"] for d in r.json()["data"]]

    assert ids(commune=B) == ["b-cam-1", "b-uplink"]
    assert ids(type="speaker") == ["a-spk-1"]
    assert ids(site="a-ubnd", state="unreachable") == ["a-cam-1", "a-cam-2"]
    assert ids(q="cổng") == ["a-cam-1"]
    assert ids(q="a-cam") == ["a-cam-1", "a-cam-2"]
    r = client.get("/api/v1/devices", params={"limit": 2, "offset": 2}, headers=admin).json()
    assert (r["count"], r["limit"], r["offset"], len(r["data"])) == (6, 2, 2, 2)
    r = client.get("/api/v1/devices", params={"limit": 501}, headers=admin)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "limit"]
    assert "at most 500" in r.json()["detail"][0]["msg"]
    r = client.get("/api/v1/devices", params={"limit": 0}, headers=admin)
    assert r.status_code == 422
    r = client.get("/api/v1/devices", params={"state": "sleepy"}, headers=admin)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "state"]


def test_device_create_update_decommission(client, world, as_user, db):
    admin = as_user("admin")
    body = {
        "id": "a-cam-3",
        "type": "camera",
        "commune_code": A,
        "site_id": "a-ubnd",
        "parents": ["a-uplink"],
        "name": "Camera Ngã ba Đình làng",
        "metadata": {"ghi_chú": "lắp năm 2025"},
    }
    r = client.post("/api/v1/devices", json=body, headers=admin)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["name"] == "Camera Ngã ba Đình làng"
    assert created["metadata"] == {"ghi_chú": "lắp năm 2025"}
    assert created["interval_s"] == 60 and created["parent_id"] == "a-uplink"
    assert created["state"] == "unknown" and created["created_at"].endswith("+00:00")
    assert client.post("/api/v1/devices", json=body, headers=admin).status_code == 409
    bad = client.post("/api/v1/devices", json={**body, "id": "z", "type": "toaster"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "type"]
    bad = client.post(
        "/api/v1/devices", json={**body, "id": "z", "site_id": "b-ubnd"}, headers=admin
    )
    assert bad.json()["detail"][0]["loc"] == ["body", "site_id"]
    bad = client.post(
        "/api/v1/devices", json={**body, "id": "z", "parents": ["ghost"]}, headers=admin
    )
    assert bad.json()["detail"][0]["loc"] == ["body", "parents"]
    bad = client.post("/api/v1/devices", json={**body, "id": "bad id"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "id"]
    # A cycle: the uplink may not hang behind its own camera.
    r = client.patch("/api/v1/devices/a-uplink", json={"parents": ["a-cam-3"]}, headers=admin)
    assert r.status_code == 422 and "cycle" in r.json()["detail"][0]["msg"]
    r = client.patch(
        "/api/v1/devices/a-cam-3",
        json={"parents": ["a-cam-1", "a-uplink"], "lat": 15.1},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert r.json()["parents"] == ["a-cam-1", "a-uplink"] and r.json()["parent_id"] == "a-cam-1"
    r = client.patch("/api/v1/devices/a-cam-3", json={"name": None}, headers=admin)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "name"]
    r = client.post("/api/v1/devices/a-cam-1/decommission", headers=admin)
    assert r.status_code == 200 and r.json()["state"] == "decommissioned"
    listed = client.get("/api/v1/devices", params={"commune": A}, headers=admin).json()
    assert "a-cam-1" not in [d["id"] for d in listed["data"]]
    gone = client.get("/api/v1/devices", params={"state": "decommissioned"}, headers=admin).json()
    assert [d["id"] for d in gone["data"]] == ["a-cam-1"]
    # History stays.
    assert (
        db.execute("SELECT count(*) FROM telemetry WHERE device_id = 'a-cam-1'").fetchone()[0]
        == 180
    )
    assert client.get("/api/v1/devices/a-cam-1/events", headers=admin).json()["count"] == 1
    audit = client.get("/api/v1/audit", params={"object_type": "device"}, headers=admin).json()
    assert [e["action"] for e in audit["data"]] == ["decommission", "update", "create"]
    assert audit["data"][0]["actor"] == "admin"


def test_bulk_import_reports_rows_and_is_all_or_nothing(client, world, as_user, db):
    admin = as_user("admin")
    good = (
        "devices:\n"
        f'  - {{id: a-cam-9, type: camera, commune: "{A}", site: a-ubnd, name: "Camera Bến đò"}}\n'
        f'  - {{id: a-spk-9, type: speaker, commune: "{A}", name: "Cụm loa 4G"}}\n'
    )
    r = client.post(
        "/api/v1/devices/import", json={"content": good, "dry_run": True}, headers=admin
    )
    assert r.status_code == 200, r.text
    assert r.json()["created"]["devices"] == 2 and r.json()["dry_run"] is True
    assert client.get("/api/v1/devices/a-cam-9", headers=admin).status_code == 404
    r = client.post("/api/v1/devices/import", json={"content": good}, headers=admin)
    assert r.json()["created"]["devices"] == 2
    assert client.get("/api/v1/devices/a-cam-9", headers=admin).json()["name"] == "Camera Bến đò"
    r = client.post("/api/v1/devices/import", json={"content": good}, headers=admin)
    assert r.json()["unchanged"]["devices"] == 2
    bad = (
        good
        + f'  - {{id: a-x, type: cam, commune: "{A}", name: "X"}}\n  - {{id: a-y, commune: "{A}"}}\n'
    )
    r = client.post("/api/v1/devices/import", json={"content": bad}, headers=admin)
    assert r.status_code == 422
    errors = r.json()["detail"]
    assert [e["line"] for e in errors] == [4, 5, 5]
    assert errors[0]["loc"] == ["body", "content", "devices", "2", "type"]
    assert "unknown device type 'cam'" in errors[0]["msg"]
    assert client.get("/api/v1/devices/a-x", headers=admin).status_code == 404
    csv = "id,type,commune,name\nb-cam-7,camera,21026,Camera chợ Tịnh Hà\n"
    r = client.post("/api/v1/devices/import", json={"format": "csv", "content": csv}, headers=admin)
    assert r.status_code == 200 and r.json()["created"]["devices"] == 1
    # A commune-scoped admin may not import into another commune.
    r = client.post(
        "/api/v1/devices/import", json={"format": "csv", "content": csv}, headers=as_user("admin_a")
    )
    assert r.status_code == 422 and "outside your communes" in r.json()["detail"][0]["msg"]
    r = client.post("/api/v1/devices/import", json={"content": good}, headers=as_user("tech"))
    assert r.status_code == 403
    entries = client.get("/api/v1/audit", params={"action": "import"}, headers=admin).json()["data"]
    assert len(entries) == 3
