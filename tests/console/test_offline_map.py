"""The map offline: tiles from an MBTiles file served by the product, or a plain schematic."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg

from api.console.tiles import _world
from tests.api.conftest import World

# A 1x1 PNG: what a real tile's bytes are to the route (it never decodes them).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf0000000301010018dd8db40000000049454e44ae426082"
)


def _mbtiles(path: Path, tiles: list[tuple[int, int, int]]) -> Path:
    """An MBTiles 1.3 file with ``tiles`` given as XYZ (stored TMS, y flipped)."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metadata (name text, value text)")
        db.execute("INSERT INTO metadata VALUES ('format', 'png'), ('name', 'Quảng Ngãi')")
        db.execute(
            "CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, "
            "tile_data blob)"
        )
        for z, x, y in tiles:
            db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, 2**z - 1 - y, PNG))
    return path


def _locate(db: psycopg.Connection) -> None:
    db.execute("UPDATE devices SET lat = 15.118, lon = 108.742 WHERE id = 'a-cam-1'")
    db.execute("UPDATE devices SET lat = 15.121, lon = 108.750 WHERE id = 'a-uplink'")


def test_without_tiles_the_map_is_a_plain_schematic(
    console: Callable[..., httpx.Client], db: psycopg.Connection, world: World
) -> None:
    _locate(db)
    html = console("tech_a").get("/console/communes/21025").text
    assert 'class="map schematic"' in html and "<img" not in html.split('class="map')[1]
    assert 'href="/console/devices/a-cam-1"' in html


def test_mbtiles_tiles_are_served_and_used_by_the_console(
    console: Callable[..., httpx.Client],
    serve: Callable[..., httpx.Client],
    db: psycopg.Connection,
    world: World,
    tmp_path: Path,
) -> None:
    _locate(db)
    x, y = (int(v // 256) for v in _world(15.118, 108.742, 14))
    path = _mbtiles(tmp_path / "province.mbtiles", [(14, x, y)])
    c = console("tech_a", api={"map_mbtiles": path})
    r = c.get(f"/tiles/14/{x}/{y}.png")
    assert r.status_code == 200 and r.content == PNG
    assert r.headers["content-type"] == "image/png"
    assert c.get(f"/tiles/14/{x}/{y + 1}.png").status_code == 404
    assert c.get(f"/tiles/1/{x}/{y}.png").status_code == 404  # outside the zoom's grid
    html = c.get("/console/communes/21025").text
    srcs = re.findall(r'<img src="/tiles/(\d+)/(\d+)/(\d+)\.png"', html)
    assert srcs and all(c.get(f"/tiles/{z}/{tx}/{ty}.png").status_code in (200, 404)
                        for z, tx, ty in srcs)  # fmt: skip
    assert serve().get(f"/tiles/14/{x}/{y}.png").status_code == 404  # no file configured
