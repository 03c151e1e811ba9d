"""Issue 19 item 10: a commune-scoped admin's bulk import gets exactly the routes' scope checks.

For each write the REST routes refuse to a scoped admin, the same write through the import is
refused too and changes nothing; the audit entries of an import name the communes it touched.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest

from tests.api.conftest import A, B, World

ADMIN_A = "admin_a"


def _import(client: httpx.Client, headers: dict[str, str], doc: dict[str, Any]) -> httpx.Response:
    return client.post(
        "/api/v1/devices/import",
        json={"format": "yaml", "content": json.dumps(doc, ensure_ascii=False)},
        headers=headers,
    )


def _snapshot(db: psycopg.Connection) -> list[Any]:
    return [
        db.execute("SELECT id, commune_code, name FROM sites ORDER BY id").fetchall(),
        db.execute(
            "SELECT id, commune_code, site_id, parent_id, name FROM devices ORDER BY id"
        ).fetchall(),
        db.execute("SELECT device_id, parent_id FROM device_parents ORDER BY 1, 2").fetchall(),
    ]


@pytest.fixture
def empty_b_site(db: psycopg.Connection, world: World) -> str:
    db.execute(
        "INSERT INTO sites (id, commune_code, name) VALUES ('b-empty', %s, 'Nhà văn hoá')", (B,)
    )
    return "b-empty"


CASES: dict[str, tuple[dict[str, Any], str]] = {
    # Route: PATCH /sites/{id} of another commune's site is a 404; POST /sites with its id a 409.
    "move another commune's empty site into mine": (
        {
            "communes": [
                {"code": A, "name": "Xã Tịnh Sơn", "sites": [{"id": "b-empty", "name": "x"}]}
            ]
        },
        "site id 'b-empty' is not available to you",
    ),
    # Route: POST /devices with parents in another commune is a 422 (unknown device).
    "new device with a parent in another commune": (
        {
            "devices": [
                {"id": "a-new", "type": "camera", "commune": A, "parent": "b-uplink", "name": "n"}
            ]
        },
        "unknown device(s): b-uplink",
    ),
    # Route: PATCH /devices/{id} with such a parent is a 422 too.
    "own device re-parented into another commune": (
        {
            "devices": [
                {
                    "id": "a-cam-2",
                    "type": "camera",
                    "commune": A,
                    "site": "a-ubnd",
                    "parent": ["a-uplink", "b-cam-1"],
                    "name": "Camera Sân",
                }
            ]
        },
        "unknown device(s): b-cam-1",
    ),
    # Route: a device of another commune is a 404 for the scoped admin.
    "take over another commune's device": (
        {"devices": [{"id": "b-cam-1", "type": "camera", "commune": A, "name": "mine now"}]},
        "device id 'b-cam-1' is not available to you",
    ),
    # Route: POST /devices in another commune is a 422.
    "new device in another commune": (
        {"devices": [{"id": "b-new", "type": "camera", "commune": B, "name": "n"}]},
        f"commune {B} is outside your communes",
    ),
    # Route: POST /communes of another commune is a 422.
    "rename another commune": (
        {"communes": [{"code": B, "name": "Đổi tên"}]},
        f"commune {B} is outside your communes",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_scoped_import_refuses_what_the_routes_refuse(
    client: httpx.Client,
    db: psycopg.Connection,
    world: World,
    empty_b_site: str,
    as_user: Callable[[str], dict[str, str]],
    case: str,
) -> None:
    doc, message = CASES[case]
    before = _snapshot(db)
    for dry_run in (True, False):
        r = client.post(
            "/api/v1/devices/import",
            json={
                "format": "yaml",
                "content": json.dumps(doc, ensure_ascii=False),
                "dry_run": dry_run,
            },
            headers=as_user(ADMIN_A),
        )
        assert r.status_code == 422, r.text
        assert any(message in e["msg"] for e in r.json()["detail"]), r.text
    assert _snapshot(db) == before
    # A global admin may do the same through the import (it is a scope rule, not a format rule),
    # except moving a site whose devices would then sit in another commune.
    if case != "take over another commune's device":
        r = _import(client, as_user("admin"), doc)
        assert r.status_code == 200, r.text


def test_route_and_import_agree_on_parents(
    client: httpx.Client, world: World, as_user: Callable[[str], dict[str, str]]
) -> None:
    """The same parent is refused by the route and by the import, with the same words."""
    headers = as_user(ADMIN_A)
    r = client.patch("/api/v1/devices/a-cam-2", json={"parents": ["b-uplink"]}, headers=headers)
    assert r.status_code == 422
    route_msg = r.json()["detail"][0]["msg"]
    r = _import(
        client,
        headers,
        {
            "devices": [
                {
                    "id": "a-cam-2",
                    "type": "camera",
                    "commune": A,
                    "site": "a-ubnd",
                    "parent": "b-uplink",
                    "name": "Camera Sân",
                }
            ]
        },
    )
    assert r.status_code == 422
    assert route_msg in [e["msg"] for e in r.json()["detail"]]


def test_scoped_import_in_scope_works_and_is_audited_per_commune(
    client: httpx.Client,
    db: psycopg.Connection,
    world: World,
    as_user: Callable[[str], dict[str, str]],
) -> None:
    doc = {
        "communes": [
            {
                "code": A,
                "name": "Xã Tịnh Sơn",
                "province": "Quảng Ngãi",
                "sites": [{"id": "a-cho", "name": "Chợ Tịnh Sơn"}],
            }
        ],
        "devices": [
            {
                "id": "a-spk-2",
                "type": "speaker",
                "commune": A,
                "site": "a-cho",
                "parent": "a-uplink",
                "name": "Loa chợ 2",
            },
            {
                "id": "a-spk-3",
                "type": "speaker",
                "commune": A,
                "site": "a-cho",
                "parent": "a-spk-2",
                "name": "Loa chợ 3",
            },
        ],
    }
    r = _import(client, as_user(ADMIN_A), doc)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == {"communes": 0, "sites": 1, "devices": 2}
    rows = db.execute(
        "SELECT commune_code, details FROM audit_log WHERE action = 'import' ORDER BY id"
    ).fetchall()
    assert [c for c, _ in rows] == [A]
    assert rows[0][1]["communes"] == [A]
    # The scoped admin sees their own import in the audit log.
    r = client.get("/api/v1/audit", params={"action": "import"}, headers=as_user(ADMIN_A))
    assert r.status_code == 200 and r.json()["count"] == 1, r.text


def test_global_import_audits_every_commune_touched(
    client: httpx.Client,
    db: psycopg.Connection,
    world: World,
    empty_b_site: str,
    as_user: Callable[[str], dict[str, str]],
) -> None:
    """Moving B's empty site into A touches both communes; each gets an entry."""
    doc = {
        "communes": [{"code": A, "name": "Xã Tịnh Sơn", "sites": [{"id": "b-empty", "name": "x"}]}]
    }
    r = _import(client, as_user("admin"), doc)
    assert r.status_code == 200, r.text
    rows = db.execute(
        "SELECT commune_code, details->'communes' FROM audit_log WHERE action = 'import' "
        "ORDER BY commune_code"
    ).fetchall()
    assert rows == [(A, [A, B]), (B, [A, B])]
