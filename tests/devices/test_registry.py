"""Registry files: strict parsing with located errors, and an idempotent import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from devices.registry import RegistryError, load_file, parse_devices_csv, parse_yaml
from devices.store import import_registry

DEMO = Path(__file__).resolve().parents[2] / "devices" / "data" / "demo_commune.yaml"

SMALL = """\
communes:
  - code: "21025"
    name: "Xã Tịnh Sơn"
    province: "Quảng Ngãi"
    sites:
      - {id: ts-ubnd, name: "UBND xã", lat: 15.118, lon: 108.742}
devices:
  - {id: ts-uplink, type: link, commune: "21025", site: ts-ubnd, name: "Cáp quang UBND"}
  - {id: ts-4g, type: link, commune: "21025", site: ts-ubnd, name: "4G"}
  - {id: ts-cam-01, type: camera, commune: "21025", site: ts-ubnd, parent: [ts-uplink, ts-4g],
     name: "Camera cổng UBND", interval_s: 30}
"""


def test_demo_commune_is_valid_and_realistic() -> None:
    registry = load_file(DEMO)
    types = {d.type for d in registry.devices}
    assert types == {"camera", "nvr", "speaker", "link"}
    assert 90 <= len(registry.devices) <= 120
    assert sum(1 for d in registry.devices if d.parents) > 60
    assert any(len(d.parents) > 1 for d in registry.devices)


def test_errors_name_file_line_and_field() -> None:
    text = SMALL.replace("type: camera", "type: cam").replace('name: "4G"', 'name: "4G", x: 1')
    errors = parse_yaml(text, "f.yaml").errors
    assert any(e.startswith("f.yaml:9: devices[1].x") for e in errors), errors
    assert any(e.startswith("f.yaml:10: devices[2].type") and "unknown device type" in e
               for e in errors), errors  # fmt: skip


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("devices: [{id: a/b, type: link, commune: '21025', name: A}]", "devices[0].id"),
        ("devices: [{id: a, type: link, commune: '2102', name: A}]", "devices[0].commune"),
        ("devices: [{id: a, type: link, commune: '21025', name: A, lat: 91}]", "devices[0].lat"),
        ("devices:\n  - {id: a, type: link, commune: '21025', name: A, parent: a}", "own parent"),
        ("devices:\n  - {id: a, type: link, commune: '21025', name: A, parent: b}\n"
         "  - {id: b, type: link, commune: '21025', name: B, parent: a}", "topology cycle"),
        ("devices:\n  - {id: a, type: link, commune: '21025', name: A}\n"
         "  - {id: a, type: link, commune: '21025', name: B}", "duplicate device id"),
        ("devices: [", "invalid YAML"),
    ],
)  # fmt: skip
def test_each_kind_of_bad_registry_is_reported(text: str, needle: str) -> None:
    errors = parse_yaml(text, "bad.yaml").errors
    assert any(needle in e for e in errors), errors


def test_csv_rows_are_numbered_and_parents_split() -> None:
    text = (
        "id,type,commune,site,parent,name\n"
        "c1,camera,21025,ts-ubnd,ts-uplink;ts-4g,Cam 1\n"
        "c2,camera,21025,,,\n"
        "c3,camera,21025,,,Cam 3,extra\n"
    )
    registry = parse_devices_csv(text, "d.csv")
    assert registry.devices[0].parents == ["ts-uplink", "ts-4g"]
    assert any(e.startswith("d.csv:3: name") for e in registry.errors), registry.errors
    assert any(e.startswith("d.csv:4:") and "more fields" in e for e in registry.errors)


def test_import_is_idempotent_and_updates(db: psycopg.Connection) -> None:
    first = import_registry(db, parse_yaml(SMALL))
    assert first.created == {"communes": 1, "sites": 1, "devices": 3}
    again = import_registry(db, parse_yaml(SMALL))
    assert again.unchanged == {"communes": 1, "sites": 1, "devices": 3}
    assert again.created == again.updated == {"communes": 0, "sites": 0, "devices": 0}
    renamed = import_registry(db, parse_yaml(SMALL.replace("Camera cổng UBND", "Camera mới")))
    assert renamed.updated["devices"] == 1
    rows = db.execute("SELECT name, lat, interval_s FROM devices WHERE id = 'ts-cam-01'").fetchall()
    assert rows == [("Camera mới", 15.118, 30)]  # location inherited from the site
    parents = db.execute(
        "SELECT parent_id FROM device_parents WHERE device_id = 'ts-cam-01' ORDER BY 1"
    ).fetchall()
    assert parents == [("ts-4g",), ("ts-uplink",)]


def test_unknown_reference_is_refused_and_nothing_is_imported(db: psycopg.Connection) -> None:
    text = "devices: [{id: x1, type: camera, commune: '99999', name: X}]"
    with pytest.raises(RegistryError, match="unknown commune '99999'"):
        import_registry(db, parse_yaml(text), "x.yaml")
    assert db.execute("SELECT count(*) FROM devices").fetchone() == (0,)


BAD_REFERENCES = """devices:
  - {id: a1, type: camera, commune: "21025", site: ts-ubnd, name: "Cam 1"}
  - {id: a2, type: camera, commune: "21025", site: ts-nowhere, parent: sw-x, name: "Cam 2"}
  - {id: a3, type: camera, commune: "99999", name: "Cam 3"}
  - {id: a4, type: camera, commune: "21025", parent: [ts-uplink, ghost], name: "Cam 4"}
  - {id: a5, type: camera, commune: "21026", site: ts-ubnd, name: "Cam 5"}
"""


def test_every_bad_reference_is_reported_with_its_line(db: psycopg.Connection) -> None:
    """References to the database are checked before writing: all of them, each with a line."""
    import_registry(db, parse_yaml(SMALL))
    db.execute("INSERT INTO communes (code, name, province) VALUES ('21026', 'Xã Tịnh Hà', 'QN')")
    with pytest.raises(RegistryError) as err:
        import_registry(db, parse_yaml(BAD_REFERENCES, "more.yaml"), "more.yaml")
    assert err.value.errors == [
        "more.yaml:3: devices[1].site: unknown site 'ts-nowhere' "
        "(not in this file nor in the database)",
        "more.yaml:3: devices[1].parent: unknown device 'sw-x' "
        "(not in this file nor in the database)",
        "more.yaml:4: devices[2].commune: unknown commune '99999' "
        "(not in this file nor in the database)",
        "more.yaml:5: devices[3].parent: unknown device 'ghost' "
        "(not in this file nor in the database)",
        "more.yaml:6: devices[4].site: site 'ts-ubnd' is in commune 21025, not 21026",
    ]
    assert db.execute("SELECT count(*) FROM devices").fetchone() == (3,)
    csv_text = "id,type,commune,site,parent,name\nb1,camera,21025,ts-ubnd,nope,B1\n"
    with pytest.raises(RegistryError, match=r"x.csv:2: devices\[0\].parent: unknown device"):
        import_registry(db, parse_devices_csv(csv_text, "x.csv"), "x.csv")


def test_cli_import_twice(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(SMALL, encoding="utf-8")
    env = {"IOC_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "ioc", "devices", "import", str(path)]
    first = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    second = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "devices: 3 created" in first.stdout
    assert "devices: 0 created, 0 updated, 3 unchanged" in second.stdout
    path.write_text(SMALL.replace("type: camera", "type: cam"), encoding="utf-8")
    bad = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert f"{path}:10: devices[2].type" in bad.stderr
