"""Commune scoping everywhere: a commune-A user never sees or touches commune B."""

from __future__ import annotations

import pytest

from tests.api.conftest import A, B

READS = [
    f"/api/v1/communes/{B}",
    "/api/v1/sites/b-ubnd",
    "/api/v1/devices/b-cam-1",
    "/api/v1/devices/b-cam-1/state",
    "/api/v1/devices/b-cam-1/telemetry?metric=fps",
    "/api/v1/devices/b-cam-1/events",
    "/api/v1/alerts/{b_root}",
    f"/api/v1/overview?commune={B}",
]
LISTS = [
    ("/api/v1/communes", "code", A),
    ("/api/v1/sites", "commune_code", A),
    ("/api/v1/devices", "commune_code", A),
    ("/api/v1/alerts", "commune_code", A),
]


@pytest.mark.parametrize("user", ["tech_a", "op_a", "admin_a"])
def test_scoped_users_get_404_for_other_communes(client, world, as_user, user):
    for url in READS:
        r = client.get(url.format(b_root=world.alerts["b_root"]), headers=as_user(user))
        assert r.status_code == 404, (url, r.text)
        assert r.json()["detail"].endswith("not found")
    # The same objects exist for an unscoped user.
    for url in READS:
        r = client.get(url.format(b_root=world.alerts["b_root"]), headers=as_user("operator"))
        assert r.status_code == 200, (url, r.text)


@pytest.mark.parametrize("user", ["tech_a", "op_a", "admin_a"])
def test_scoped_lists_and_counts(client, world, as_user, user):
    for url, field, commune in LISTS:
        r = client.get(url, headers=as_user(user)).json()
        assert r["data"] and {item[field] for item in r["data"]} == {commune}, url
        assert r["count"] == len(r["data"])
        r = client.get(
            url, params={"commune": B} if "communes" not in url else {"q": B}, headers=as_user(user)
        )
        assert r.json()["count"] == 0, url
    overview = client.get("/api/v1/overview", headers=as_user(user)).json()
    assert overview["devices"] == 4
    assert {s["severity"]: s["open"] for s in overview["by_severity"]} == {
        "critical": 1,
        "warning": 1,
    }


def test_scoped_writes(client, world, as_user):
    b_root = world.alerts["b_root"]
    tech = as_user("tech_a")
    assert (
        client.post(f"/api/v1/alerts/{b_root}/ack", json={"note": "x"}, headers=tech).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/alerts/{b_root}/assign", json={"assignee": "x"}, headers=tech
        ).status_code
        == 404
    )
    admin = as_user("admin_a")
    assert (
        client.patch("/api/v1/devices/b-cam-1", json={"name": "x"}, headers=admin).status_code
        == 404
    )
    assert client.post("/api/v1/devices/b-cam-1/decommission", headers=admin).status_code == 404
    assert (
        client.patch(f"/api/v1/communes/{B}", json={"name": "x"}, headers=admin).status_code == 404
    )
    assert (
        client.patch("/api/v1/sites/b-ubnd", json={"name": "x"}, headers=admin).status_code == 404
    )
    device = {"id": "b-cam-9", "type": "camera", "commune_code": B, "name": "x"}
    r = client.post("/api/v1/devices", json=device, headers=admin)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "commune_code"]
    # A parent in another commune is as unknown as a missing one.
    r = client.post(
        "/api/v1/devices",
        json={**device, "commune_code": A, "parents": ["b-uplink"]},
        headers=admin,
    )
    assert r.status_code == 422 and "unknown device" in r.json()["detail"][0]["msg"]
    r = client.post(
        "/api/v1/sites", json={"id": "b-x", "commune_code": B, "name": "x"}, headers=admin
    )
    assert r.status_code == 422
    r = client.post("/api/v1/communes", json={"code": "21999", "name": "x"}, headers=admin)
    assert r.status_code == 422
    r = client.post("/api/v1/devices", json={**device, "commune_code": A}, headers=admin)
    assert r.status_code == 201
    # The global admin's B changes are invisible in the scoped admin's audit log.
    assert (
        client.patch(
            "/api/v1/devices/b-cam-1", json={"name": "Camera mới"}, headers=as_user("admin")
        ).status_code
        == 200
    )
    entries = client.get("/api/v1/audit", headers=admin).json()["data"]
    assert [e["object_id"] for e in entries] == ["b-cam-9"]
    assert len(client.get("/api/v1/audit", headers=as_user("admin")).json()["data"]) == 2
