"""First checks: the app starts, answers health, and serves the seeded registry."""

from __future__ import annotations

from tests.api.conftest import A


def test_healthz_and_list(client, world, as_user):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/api/v1/devices", headers=as_user("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["count"] == 6
    r = client.get("/api/v1/overview", params={"commune": A}, headers=as_user("admin"))
    assert r.status_code == 200, r.text
