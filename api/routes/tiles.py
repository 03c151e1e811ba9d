"""Map tiles from an MBTiles file on this server: the console's and Grafana's offline basemap.

``GET /tiles/{z}/{x}/{y}.png`` (the XYZ scheme) reads the MBTiles SQLite file named by
IOC_API_MAP_MBTILES (tiles are stored TMS, y flipped). Public like any basemap: tiles hold no
device data. Without a file every tile is 404 and maps fall back to the plain schematic.
"""

from __future__ import annotations

import sqlite3
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import Response

from api.deps import SettingsDep

router = APIRouter(tags=["map"])

TILE_SQL = "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?"
FORMAT_SQL = "SELECT value FROM metadata WHERE name = 'format'"
MEDIA = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}


@router.get("/tiles/{z}/{x}/{y}.png", include_in_schema=False)
def tile(
    settings: SettingsDep,
    z: Annotated[int, Path(ge=0, le=22)],
    x: Annotated[int, Path(ge=0, lt=2**22)],
    y: Annotated[int, Path(ge=0, lt=2**22)],
) -> Response:
    """One basemap tile, or 404 (no file configured, or no tile there)."""
    path = settings.api.map_mbtiles
    if path is None or x >= 2**z or y >= 2**z:
        raise HTTPException(404, "no tile")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            row = db.execute(TILE_SQL, (z, x, 2**z - 1 - y)).fetchone()
            fmt = db.execute(FORMAT_SQL).fetchone()
    except sqlite3.Error as exc:
        raise HTTPException(503, f"map tiles unavailable: {exc}") from exc
    if row is None:
        raise HTTPException(404, "no tile")
    media = MEDIA.get(str(fmt[0]).lower() if fmt else "png", "image/png")
    return Response(row[0], media_type=media, headers={"Cache-Control": "public, max-age=86400"})
