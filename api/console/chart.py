"""A small inline SVG line chart (no JavaScript, a few hundred bytes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from devices.catalogue import TYPES

WIDTH, HEIGHT, PAD = 320, 80, 4
# The metric charted on the device page; default: the type's first gauge.
KEY_METRIC = {"link": "rtt_ms", "camera": "fps", "speaker": "rsrp_dbm", "nvr": "disk_used_pct"}


def key_metric(device_type: str) -> str | None:
    """The metric that tells most about a device of this type."""
    if device_type in KEY_METRIC:
        return KEY_METRIC[device_type]
    known = TYPES.get(device_type)
    if known is None:
        return None
    gauges = [m.name for m in known.metrics if m.kind == "gauge"]
    return gauges[0] if gauges else (known.metrics[0].name if known.metrics else None)


def polyline(
    points: Sequence[tuple[datetime, float | None]], start: datetime, end: datetime
) -> dict[str, object] | None:
    """SVG coordinates of the points between ``start`` and ``end`` (None when empty)."""
    values = [(t, v) for t, v in points if v is not None]
    if not values:
        return None
    low = min(v for _, v in values)
    high = max(v for _, v in values)
    span_v = (high - low) or 1.0
    span_t = (end - start).total_seconds() or 1.0
    coords = []
    for t, v in values:
        x = PAD + (WIDTH - 2 * PAD) * (t - start).total_seconds() / span_t
        y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * (v - low) / span_v
        coords.append(f"{x:.1f},{y:.1f}")
    return {
        "points": " ".join(coords),
        "low": round(low, 2),
        "high": round(high, 2),
        "width": WIDTH,
        "height": HEIGHT,
    }
