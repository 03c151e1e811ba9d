"""Every console form and route refuses hostile values with a 4xx page and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import httpx
import psycopg
import pytest

from tests.api.conftest import World
from tests.console.conftest import csrf_of

NUL = "a\x00b"
BAD_UTF8 = "%ED%A0%80%FF"  # a lone surrogate and a stray byte, percent-encoded
HOSTILE = [
    NUL,
    "x" * 10_000,
    "' OR 1=1 --",
    "%00",
    "9999-12-31T23:59:59",
    "0001-01-01T00:00:00",
    "-1",
    "99999999999999999999999",
    "1e308",
    "NaN",
    "{{7*7}}",
    "",
]
UNTIL = [
    "9999-12-31T23:59:59",
    "9999-12-31T23:59:59+14:00",
    "9999-12-31",
    "0001-01-01T00:00:00",
    "0001-01-01T00:00:00-12:00",
    "1969-12-31T23:59:59+00:00",
    "2026-01-01T00:00:00+23:59",
    "8999-12-31T23:59:59-23:59",
    "2000-01-01T00:00:00",  # in the past
    NUL,
]
WRITES = "SELECT (SELECT count(*) FROM silences), (SELECT count(*) FROM alert_history)"


def _fine(r: httpx.Response, what: str) -> None:
    assert r.status_code < 500, f"{what}: {r.status_code} {r.text[:300]}"


def test_silence_until_out_of_range_is_a_clear_422(
    console: Callable[..., httpx.Client], db: psycopg.Connection, world: World
) -> None:
    c = console("tech_a")
    alert = world.alerts["a_root"]
    token = csrf_of(c.get(f"/console/alerts/{alert}").text)
    before = db.execute(WRITES).fetchone()
    for until in UNTIL:
        r = c.post(f"/console/alerts/{alert}/silence", data={"csrf": token, "until": until})
        assert r.status_code == 422, f"until={until!r}: {r.status_code} {r.text[:300]}"
        assert "until" in r.text and "text/html" in r.headers["content-type"], until
    assert db.execute(WRITES).fetchone() == before  # nothing written


def test_every_console_route_survives_hostile_values(
    console: Callable[..., httpx.Client], db: psycopg.Connection, world: World
) -> None:
    c = console("tech_a")
    alert = world.alerts["a_root"]
    token = csrf_of(c.get(f"/console/alerts/{alert}").text)
    filters = ("commune", "site", "type", "severity", "state", "offset")
    for value in HOSTILE:
        seg = quote(value, safe="")
        for name in filters:
            _fine(c.get("/console/", params={name: value}), f"incidents {name}={value[:20]!r}")
        for path in (
            f"/console/alerts/{seg}",
            f"/console/devices/{seg}",
            f"/console/communes/{seg}",
            "/console/communes/21025",
            "/console/silences",
            f"/console/lang/{seg}",
        ):
            for params in ({"state": value, "offset": value, "done": value, "next": value}, {}):
                _fine(c.get(path, params=params), f"GET {path[:40]!r} {params}")
        forms = {
            f"/console/alerts/{alert}/ack": [{"note": value}],
            f"/console/alerts/{alert}/assign": [{"assignee": value}, {"me": value}],
            f"/console/alerts/{alert}/silence": [
                {"hours": value},
                {"until": value},
                {"scope": value},
                {"comment": value, "hours": "1"},
            ],
            f"/console/silences/{seg}/expire": [{}],
            "/console/telegram/code": [{}],
        }
        for url, bodies in forms.items():
            for body in bodies:
                _fine(c.post(url, data={"csrf": token, **body}), f"POST {url[:40]!r} {body}")
        anonymous = httpx.Client(base_url=str(c.base_url), timeout=30)
        _fine(anonymous.get("/console/login", params={"next": value}), "login form")
        _fine(
            anonymous.post(
                "/console/login",
                data={"username": value, "password": value, "next": value, "csrf": value},
            ),
            "login",
        )
    for query in ("type", "commune", "site", "next", "done"):
        _fine(c.get(f"/console/?{query}={BAD_UTF8}"), f"incidents {query} bad UTF-8")
        _fine(c.get(f"/console/lang/{BAD_UTF8}?{query}={BAD_UTF8}"), "lang bad UTF-8")
    for field in ("note", "assignee", "until", "comment"):
        body = f"csrf={token}&{field}={BAD_UTF8}&hours=1".encode()
        for action in ("ack", "assign", "silence"):
            r = c.post(
                f"/console/alerts/{alert}/{action}",
                content=body,
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            _fine(r, f"{action} {field} bad UTF-8")
    assert c.get("/console/").status_code == 200  # the session still works


@pytest.mark.parametrize(
    "annotations",
    ['{"impact": "nine"}', '{"impact": [1, 2]}', '{"impact": {"camera": "x"}}'],
)
def test_odd_stored_json_cannot_break_a_page(
    console: Callable[..., httpx.Client], db: psycopg.Connection, world: World, annotations: str
) -> None:
    alert = world.alerts["a_root"]
    db.execute("UPDATE alerts SET annotations = %s::jsonb WHERE id = %s", (annotations, alert))
    deep = "[" * 5000 + "]" * 5000
    db.execute(
        "UPDATE device_events SET data = %s::jsonb WHERE device_id = 'a-cam-1'",
        ('{"deep": ' + deep + "}",),
    )
    c = console("tech_a")
    for path in ("/console/", f"/console/alerts/{alert}", "/console/devices/a-cam-1"):
        r = c.get(path)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:300]}"
