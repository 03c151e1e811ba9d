"""A map without JavaScript: a few slippy-map tiles in a grid with the devices as dots.

Tiles come from the configured URL template ({z}/{x}/{y}); nothing is fetched by the server.
Without a template the dots stand on a plain background: a schematic of where devices are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

TILE = 256
MAX_TILES = 3  # per side


def _world(lat: float, lon: float, zoom: int) -> tuple[float, float]:
    """Web-Mercator pixel coordinates at ``zoom``."""
    scale = TILE * 2**zoom
    x = (lon + 180.0) / 360.0 * scale
    lat = max(min(lat, 85.05), -85.05)
    rad = math.radians(lat)
    y = (1.0 - math.log(math.tan(rad) + 1.0 / math.cos(rad)) / math.pi) / 2.0 * scale
    return x, y


def layout(
    points: Sequence[tuple[float | None, float | None, str, str]], url: str
) -> dict[str, Any] | None:
    """Tiles and dot positions (pixels in the tile grid) for devices with coordinates."""
    located = [(lat, lon, i, s) for lat, lon, i, s in points if lat is not None and lon is not None]
    if not located:
        return None
    zoom = 18
    while zoom > 1:
        xs, ys = zip(*(_world(lat, lon, zoom) for lat, lon, _, _ in located), strict=True)
        if (
            int(max(xs) // TILE) - int(min(xs) // TILE) < MAX_TILES
            and int(max(ys) // TILE) - int(min(ys) // TILE) < MAX_TILES
        ):
            break
        zoom -= 1
    xs, ys = zip(*(_world(lat, lon, zoom) for lat, lon, _, _ in located), strict=True)
    x0, y0 = int(min(xs) // TILE), int(min(ys) // TILE)
    x1, y1 = int(max(xs) // TILE), int(max(ys) // TILE)
    tiles = [
        {
            "src": url.replace("{z}", str(zoom)).replace("{x}", str(x)).replace("{y}", str(y)),
            "left": (x - x0) * TILE,
            "top": (y - y0) * TILE,
        }
        for x in range(x0, x1 + 1)
        for y in range(y0, y1 + 1)
        if url
    ]
    dots = []
    for lat, lon, device_id, state in located:
        px, py = _world(lat, lon, zoom)
        dots.append(
            {"id": device_id, "state": state, "left": px - x0 * TILE, "top": py - y0 * TILE}
        )
    return {
        "tiles": tiles,
        "dots": dots,
        "width": (x1 - x0 + 1) * TILE,
        "height": (y1 - y0 + 1) * TILE,
    }
