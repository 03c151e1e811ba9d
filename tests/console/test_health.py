"""Health beside reachability: a camera that answers but delivers 0 fps is failed (not
"Trực tuyến") on the console, in the API and on the Grafana overview; a loudspeaker that
cannot play is failed too; an unreachable device's health is unknown (its values are old)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import psycopg

from grafana.boards import overview
from tests.api.conftest import World

LATEST = """
INSERT INTO device_latest_points (device_key, metric_id, time, value)
SELECT d.key, m.id, now(), %(value)s FROM devices d, metrics m
WHERE d.id = %(device)s AND m.name = %(metric)s
ON CONFLICT (device_key, metric_id) DO UPDATE SET value = excluded.value, time = excluded.time
"""


def _grafana(db: psycopg.Connection, sql: str, commune: str) -> list[tuple[object, ...]]:
    """A board query with its variables set as Grafana would (commune chosen, all else all)."""
    sql = sql.replace("$commune", f"'{commune}'").replace("$site", "'__all'")
    sql = sql.replace("$type", "'camera', 'speaker', 'link', 'nvr', 'ups', 'collector'")
    return db.execute(sql).fetchall()


def test_camera_without_video_is_failed_everywhere(
    db: psycopg.Connection,
    world: World,
    client: httpx.Client,
    as_user: Callable[[str], dict[str, str]],
    console: Callable[..., httpx.Client],
) -> None:
    # b-cam-1 is online with 24 fps (seeded): healthy.
    body = client.get("/api/v1/devices/b-cam-1", headers=as_user("admin")).json()
    assert (body["state"], body["health"], body["symptom"]) == ("online", "healthy", None)
    db.execute(LATEST, {"device": "b-cam-1", "metric": "fps", "value": 0.0})
    body = client.get("/api/v1/devices/b-cam-1", headers=as_user("admin")).json()
    assert (body["state"], body["health"], body["symptom"]) == ("online", "failed", "no_video")
    state = client.get("/api/v1/devices/b-cam-1/state", headers=as_user("admin")).json()
    assert state["health"] == "failed"

    html = console("tech").get("/console/devices/b-cam-1").text
    assert "Hỏng: mất hình" in html
    html = console("tech").get("/console/communes/21026").text
    row = html[html.index('<th scope="row">Camera</th>') :].split("</tr>")[0]
    assert 'class="c-online">0<' in row and 'class="c-failed">1<' in row  # not "Trực tuyến"

    rows = _grafana(db, overview.PROBLEM_DEVICES, "21026")
    by_id = {r[0]: r for r in rows}
    assert by_id["b-cam-1"][4:6] == ("failed", "mất hình")
    online = dict(_grafana(db, overview._count_by_type("'online', 'degraded'"), "21026"))
    failed = dict(_grafana(db, overview._count_by_type("'failed'"), "21026"))
    assert (online["Camera"], failed["Camera"]) == (0, 1)


def test_loudspeaker_that_cannot_play_and_unreachable_camera(
    db: psycopg.Connection,
    world: World,
    client: httpx.Client,
    as_user: Callable[[str], dict[str, str]],
) -> None:
    def health(device: str) -> tuple[str, str | None]:
        body = client.get(f"/api/v1/devices/{device}", headers=as_user("admin")).json()
        return body["health"], body["symptom"]

    assert health("a-spk-1") == ("unknown", None)  # nothing proves it can play yet
    db.execute(LATEST, {"device": "a-spk-1", "metric": "amp_ok", "value": 1.0})
    db.execute(LATEST, {"device": "a-spk-1", "metric": "mains_ok", "value": 0.0})
    db.execute(LATEST, {"device": "a-spk-1", "metric": "battery_v", "value": 12.5})
    assert health("a-spk-1") == ("degraded", "on_battery")
    db.execute(LATEST, {"device": "a-spk-1", "metric": "battery_v", "value": 10.9})
    assert health("a-spk-1") == ("failed", "no_power")
    db.execute(LATEST, {"device": "a-spk-1", "metric": "amp_ok", "value": 0.0})
    assert health("a-spk-1") == ("failed", "amp_fault")
    # a-cam-1 is unreachable behind its uplink: its 24 fps are old news
    assert health("a-cam-1") == ("unknown", None)
