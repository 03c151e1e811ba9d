"""The collector's inventory route: its own devices only, with its own kind of token."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest
from click.testing import CliRunner

from collector.fetch import inventory_from_api
from collector.settings import CollectorSettings
from devices.cli import group
from devices.registry import RegistryError
from tests.collector.harness import import_inventory

INVENTORY = """
communes:
  - {code: "21025", name: "Xã Tịnh Sơn", sites: [{id: ts-ubnd, name: "UBND"}, {id: ts-x, name: X}]}
  - {code: "21026", name: "Xã Tịnh Hà"}
devices:
  - {id: col-1, type: collector, commune: "21025", site: ts-ubnd, name: "Bộ thu thập UBND"}
  - {id: col-2, type: collector, commune: "21026", name: "Bộ thu thập Tịnh Hà"}
  - {id: up-1, type: link, commune: "21025", site: ts-ubnd, name: "Cáp quang", address: 127.0.0.1,
     collector: col-1, checks: {ping: {}, snmp: {community_env: SNMP_COMMUNITY, port: 10161}}}
  - {id: cam-1, type: camera, commune: "21025", site: ts-ubnd, name: "Camera cổng",
     parent: up-1, address: 127.0.0.2, collector: col-1, checks: {ping: {}}}
  - {id: cam-9, type: camera, commune: "21026", name: "Camera khác", address: 127.0.0.9,
     collector: col-2, checks: {ping: {}}}
  - {id: cam-mqtt, type: camera, commune: "21025", name: "Camera MQTT"}
"""


def issue(db_url: str, collector: str, *extra: str) -> tuple[str, str]:
    """`ioc devices credentials issue --collector`; returns (MQTT password, API token)."""
    result = CliRunner().invoke(
        group,
        ["credentials", "issue", "--collector", collector, *extra],
        env={"IOC_DATABASE_URL": db_url},
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    password = next(ln.split(",")[1] for ln in lines if ln.startswith(collector + ","))
    token = next(ln.rsplit(" ", 1)[1] for ln in lines if "collector API token" in ln)
    return password, token


def test_collector_reads_only_its_own_inventory(
    db: psycopg.Connection, db_url: str, serve: Callable[..., httpx.Client], tmp_path: Path
) -> None:
    import_inventory(db_url, INVENTORY)
    _, token = issue(db_url, "col-1")
    client = serve()
    resp = client.get("/api/v1/collector/inventory", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert [d["id"] for d in doc["devices"]] == ["col-1", "cam-1", "up-1"]
    assert [c["code"] for c in doc["communes"]] == ["21025"]
    assert [s["id"] for s in doc["communes"][0]["sites"]] == ["ts-ubnd"]
    up = next(d for d in doc["devices"] if d["id"] == "up-1")
    assert up["checks"]["snmp"] == {"community_env": "SNMP_COMMUNITY", "port": 10161}
    assert up["address"] == "127.0.0.1" and up["collector"] == "col-1"
    # A collector token opens nothing else; a user route does not know it.
    assert (
        client.get("/api/v1/devices", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    assert client.get("/api/v1/collector/inventory").status_code == 401
    assert (
        client.get(
            "/api/v1/collector/inventory", headers={"Authorization": "Bearer iocc_nope"}
        ).status_code
        == 401
    )

    # `ioc collector run --api` parses it, caches it, and starts from the cache without WAN.
    settings = CollectorSettings(state_dir=tmp_path)
    inv = inventory_from_api(str(client.base_url), token, settings)
    assert {w.target.device_id for w in inv.watched_by("col-1")} == {"up-1", "cam-1"}
    cached = inventory_from_api("http://127.0.0.1:9", token, settings)
    assert {d.id for d in cached.devices} == {"col-1", "up-1", "cam-1"}

    # Rotation revokes the old token.
    _, new = issue(db_url, "col-1", "--rotate")
    assert (
        client.get(
            "/api/v1/collector/inventory", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 401
    )
    assert (
        client.get(
            "/api/v1/collector/inventory", headers={"Authorization": f"Bearer {new}"}
        ).status_code
        == 200
    )


def test_only_collectors_get_collector_credentials(db: psycopg.Connection, db_url: str) -> None:
    import_inventory(db_url, INVENTORY)
    result = CliRunner().invoke(
        group, ["credentials", "issue", "--collector", "cam-1"], env={"IOC_DATABASE_URL": db_url}
    )
    assert result.exit_code == 1
    assert "device 'cam-1' is a camera, not a collector" in result.output


def test_no_cache_and_no_api_is_a_clear_error(tmp_path: Path) -> None:
    settings = CollectorSettings(state_dir=tmp_path)
    with pytest.raises(RegistryError) as err:
        inventory_from_api("http://127.0.0.1:9", "iocc_x", settings)
    assert "no cached inventory" in str(err.value)
