"""Issue 19 item 14: Vietnamese names arrive in NFC or NFD; both are one name, stored in NFC."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg

from tests.api.conftest import A, World

MIGRATION = Path(__file__).parents[2] / "ioc" / "migrations" / "0660_nfc_names.sql"
NAME = "Nhà văn hoá thôn Phước Lộc"


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def test_forms_differ() -> None:
    assert nfd(NAME) != nfc(NAME) and len(nfd(NAME)) > len(nfc(NAME))


def test_api_writes_store_nfc_and_search_finds_either_form(
    client: httpx.Client,
    db: psycopg.Connection,
    world: World,
    as_user: Callable[[str], dict[str, str]],
) -> None:
    admin = as_user("admin")
    r = client.post(
        "/api/v1/sites",
        json={"id": "a-nvh", "commune_code": A, "name": nfd(NAME)},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    assert r.json()["name"] == nfc(NAME)
    r = client.patch(
        "/api/v1/devices/a-cam-2", json={"name": nfd("Camera Sân Đình")}, headers=admin
    )
    assert r.status_code == 200 and r.json()["name"] == nfc("Camera Sân Đình")
    r = client.patch(
        f"/api/v1/communes/{A}",
        json={"name": nfd("Xã Tịnh Sơn"), "province": nfd("Quảng Ngãi")},
        headers=admin,
    )
    assert r.status_code == 200 and r.json()["name"] == nfc("Xã Tịnh Sơn")
    stored = db.execute(
        "SELECT name FROM sites WHERE id = 'a-nvh' UNION ALL "
        "SELECT name FROM devices WHERE id = 'a-cam-2' UNION ALL "
        "SELECT province FROM communes WHERE code = %s",
        (A,),
    ).fetchall()
    assert all(value == nfc(value) for (value,) in stored), stored
    # A name at the length limit in NFC is accepted even though its NFD form is longer.
    long_name = ("Đường " * 40)[:200]
    assert len(nfd(long_name)) > 200
    r = client.patch("/api/v1/sites/a-nvh", json={"name": nfd(long_name)}, headers=admin)
    assert r.status_code == 200, r.text
    r = client.patch("/api/v1/sites/a-nvh", json={"name": nfd(NAME)}, headers=admin)
    # Search in either form finds the one site / device / commune.
    for form in (nfc, nfd):
        for path, query, key, expected in (
            ("/api/v1/sites", "Phước Lộc", "id", "a-nvh"),
            ("/api/v1/devices", "Sân Đình", "id", "a-cam-2"),
            ("/api/v1/communes", "Tịnh Sơn", "code", A),
        ):
            r = client.get(path, params={"q": form(query)}, headers=admin)
            assert r.status_code == 200, r.text
            assert [x[key] for x in r.json()["data"]] == [expected], (path, form, r.json())


def test_import_in_either_form_is_one_site(
    client: httpx.Client,
    db: psycopg.Connection,
    world: World,
    as_user: Callable[[str], dict[str, str]],
) -> None:
    def doc(form: Callable[[str], str]) -> str:
        return json.dumps(
            {
                "communes": [
                    {
                        "code": A,
                        "name": form("Xã Tịnh Sơn"),
                        "province": form("Quảng Ngãi"),
                        "sites": [{"id": "a-nvh", "name": form(NAME)}],
                    }
                ],
                "devices": [
                    {
                        "id": "a-spk-9",
                        "type": "speaker",
                        "commune": A,
                        "site": "a-nvh",
                        "name": form("Loa thôn Phước Lộc"),
                    }
                ],
            },
            ensure_ascii=False,
        )

    admin = as_user("admin")
    first = client.post("/api/v1/devices/import", json={"content": doc(nfd)}, headers=admin)
    assert first.status_code == 200, first.text
    again = client.post("/api/v1/devices/import", json={"content": doc(nfc)}, headers=admin)
    assert again.status_code == 200, again.text
    # The second spelling changes nothing: it is the same name.
    assert again.json()["updated"] == {"communes": 0, "sites": 0, "devices": 0}, again.json()
    names = db.execute("SELECT name FROM sites WHERE name LIKE '%%Ph%%'").fetchall()
    assert names == [(nfc(NAME),)]


def test_csv_import_normalises(
    client: httpx.Client,
    db: psycopg.Connection,
    world: World,
    as_user: Callable[[str], dict[str, str]],
) -> None:
    csv = f"id,type,commune,site,name\na-spk-8,speaker,{A},a-ubnd,{nfd('Loa chợ Tịnh Sơn')}\n"
    r = client.post(
        "/api/v1/devices/import", json={"format": "csv", "content": csv}, headers=as_user("admin")
    )
    assert r.status_code == 200, r.text
    row = db.execute("SELECT name FROM devices WHERE id = 'a-spk-8'").fetchone()
    assert row == (nfc("Loa chợ Tịnh Sơn"),)


def test_migration_normalises_existing_rows(db: psycopg.Connection, world: World) -> None:
    db.execute("UPDATE sites SET name = %s WHERE id = 'a-ubnd'", (nfd(NAME),))
    db.execute("UPDATE devices SET name = %s WHERE id = 'a-cam-1'", (nfd("Camera Cổng"),))
    db.execute("UPDATE communes SET province = %s WHERE code = %s", (nfd("Quảng Ngãi"), A))
    db.execute(MIGRATION.read_text())
    assert db.execute("SELECT name FROM sites WHERE id = 'a-ubnd'").fetchone() == (nfc(NAME),)
    assert db.execute("SELECT name FROM devices WHERE id = 'a-cam-1'").fetchone() == (
        nfc("Camera Cổng"),
    )
    assert db.execute("SELECT province FROM communes WHERE code = %s", (A,)).fetchone() == (
        nfc("Quảng Ngãi"),
    )
