"""Issue 19 items 8, 11, 12: extreme instants and deep JSON get a 422 and commit nothing.

The time parameters are found in /openapi.json, so an endpoint added later is covered too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.api.conftest import A, World

EXTREMES = [
    "0001-01-01T00:00:00+07:00",  # year 0 in UTC: below both Python and the SQL literal
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00-07:00",
    "9999-12-31T23:59:59-07:00",  # year 10000 in UTC
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T00:00:00+14:00",
]
DEVICE = "a-cam-1"


def _nested(depth: int) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    node = doc
    for _ in range(depth - 1):
        node["a"] = {}
        node = node["a"]
    return doc


def _time_params(spec: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(path, method, parameter) of every date-time query parameter in the OpenAPI document."""
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for param in op.get("parameters", []):
                schema = param.get("schema", {})
                variants = schema.get("anyOf", [schema])
                if any(v.get("format") == "date-time" for v in variants):
                    yield path, method, param["name"]


def _fill(path: str) -> str:
    return path.replace("{device_id}", DEVICE).replace("{code}", A)


def test_every_time_parameter_refuses_extremes_without_500(
    client: httpx.Client, world: World, as_user: Callable[[str], dict[str, str]]
) -> None:
    params = list(_time_params(client.get("/openapi.json").json()))
    assert len(params) >= 6, params  # telemetry, events, audit: from and to each
    headers = as_user("admin")
    for path, method, name in params:
        extra = {"metric": "fps"} if path.endswith("/telemetry") else {}
        for value in EXTREMES:
            r = client.request(method, _fill(path), params={name: value, **extra}, headers=headers)
            assert r.status_code == 422, (path, name, value, r.status_code, r.text)
            assert "out of range" in r.text, r.text
        # The bounds themselves are fine, alone and as a pair.
        r = client.request(
            method,
            _fill(path),
            params={name: "2026-01-01T00:00:00+07:00", **extra},
            headers=headers,
        )
        assert r.status_code < 500, (path, name, r.text)


def test_time_range_at_the_bounds_answers(
    client: httpx.Client, world: World, as_user: Callable[[str], dict[str, str]]
) -> None:
    r = client.get(
        f"/api/v1/devices/{DEVICE}/events",
        params={"from": "1970-01-01T00:00:00Z", "to": "1970-01-31T00:00:00Z"},
        headers=as_user("admin"),
    )
    assert r.status_code == 200 and r.json()["count"] == 0
    r = client.get(
        f"/api/v1/devices/{DEVICE}/events",
        params={"to": "1970-01-05T00:00:00Z"},  # default 30 days back: before 1970, no overflow
        headers=as_user("admin"),
    )
    assert r.status_code == 200


@pytest.mark.parametrize("bad", EXTREMES)
def test_silence_out_of_range_is_422_and_nothing_committed(
    client: httpx.Client, world: World, as_user: Callable[[str], dict[str, str]], db: Any, bad: str
) -> None:
    body = {"matchers": [{"label": "commune", "value": A}], "comment": "bảo trì"}
    before = db.execute("SELECT count(*) FROM silences").fetchone()[0]
    audits = db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    for extra in (
        {"starts_at": bad, "ends_at": "2030-01-01T00:00:00Z"},
        {"ends_at": bad},
    ):
        r = client.post("/api/v1/silences", json={**body, **extra}, headers=as_user("tech_a"))
        if bad.startswith("9999") or "ends_at" not in extra or len(extra) == 2:
            assert r.status_code == 422, r.text
            assert "out of range" in r.text or "in the future" in r.text, r.text
    assert db.execute("SELECT count(*) FROM silences").fetchone()[0] == before
    assert db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == audits
    # Everything keeps working for everyone.
    assert client.get("/api/v1/silences", headers=as_user("admin")).status_code == 200


def test_bad_silence_rows_do_not_break_listing_or_expiry(
    client: httpx.Client,
    world: World,
    as_user: Callable[[str], dict[str, str]],
    db: psycopg.Connection,
) -> None:
    """Rows written before the checks (or by hand): shown clamped, expirable, never a 500."""
    rows = [
        (
            '[{"label": "commune", "op": "=", "value": "21025"}]',
            "0001-01-01 00:00:00+07",
            "10000-01-01",
        ),
        ('{"label": "commune"}', "now()", "infinity"),
        ('[1, "x", {"label": "device", "op": "=~", "value": "("}]', "-infinity", "2100-01-01"),
    ]
    ids = []
    for matchers, starts, ends in rows:
        row = db.execute(
            "INSERT INTO silences (matchers, starts_at, ends_at, created_by, recurrence) "
            "VALUES (%s::jsonb, %s::timestamptz, %s::timestamptz, 'sql', '[1]') RETURNING id",
            (matchers, starts, ends),
        ).fetchone()
        assert row is not None
        ids.append(row[0])
    admin = as_user("admin")
    for state in (None, "active", "pending", "expired"):
        r = client.get("/api/v1/silences", params={"state": state} if state else {}, headers=admin)
        assert r.status_code == 200, r.text
    # Scoped listing filters on the matchers' JSON: no error on a non-array either.
    r = client.get("/api/v1/silences", headers=as_user("tech_a"))
    assert r.status_code == 200 and ids[0] in [s["id"] for s in r.json()["data"]]
    for sid in ids:
        r = client.get(f"/api/v1/silences/{sid}", headers=admin)
        assert r.status_code == 200, r.text
        r = client.delete(f"/api/v1/silences/{sid}", headers=admin)
        assert r.status_code == 200 and r.json()["state"] == "expired", r.text
    shown = client.get(f"/api/v1/silences/{ids[0]}", headers=admin).json()
    assert shown["starts_at"].startswith("1970-01-01") and shown["ends_at"].startswith("9000-")


@pytest.mark.parametrize("where", ["create", "update", "import"])
def test_deep_or_huge_metadata_is_422_and_not_stored(
    client: httpx.Client,
    world: World,
    as_user: Callable[[str], dict[str, str]],
    db: psycopg.Connection,
    where: str,
) -> None:
    admin = as_user("admin")
    for metadata in (_nested(300), _nested(11), {"blob": "x" * 20_000}):
        if where == "create":
            body = {
                "id": "x-deep",
                "type": "camera",
                "commune_code": A,
                "site_id": "a-ubnd",
                "name": "Camera sâu",
                "metadata": metadata,
            }
            r = client.post("/api/v1/devices", json=body, headers=admin)
        elif where == "update":
            r = client.patch(
                f"/api/v1/devices/{DEVICE}", json={"metadata": metadata}, headers=admin
            )
        else:
            import json

            doc = {
                "devices": [
                    {
                        "id": "x-deep",
                        "type": "camera",
                        "commune": A,
                        "name": "x",
                        "metadata": metadata,
                    }
                ]
            }
            r = client.post(
                "/api/v1/devices/import",
                json={"format": "yaml", "content": json.dumps(doc)},
                headers=admin,
            )
        assert r.status_code == 422, r.text
        assert "levels deep" in r.text or "bytes" in r.text, r.text
    assert db.execute("SELECT count(*) FROM devices WHERE id = 'x-deep'").fetchone() == (0,)
    stored = db.execute("SELECT metadata FROM devices WHERE id = %s", (DEVICE,)).fetchone()
    assert stored == ({},)
    # A nested but reasonable document is fine.
    r = client.patch(f"/api/v1/devices/{DEVICE}", json={"metadata": _nested(10)}, headers=admin)
    assert r.status_code == 200, r.text


def test_deeply_nested_registry_yaml_is_an_error_not_a_crash(
    client: httpx.Client, world: World, as_user: Callable[[str], dict[str, str]]
) -> None:
    content = "devices:\n  - metadata: " + "[" * 5000 + "]" * 5000 + "\n"
    r = client.post(
        "/api/v1/devices/import",
        json={"format": "yaml", "content": content},
        headers=as_user("admin"),
    )
    assert r.status_code == 422, r.text


def test_listing_survives_a_deep_row_already_stored(
    client: httpx.Client,
    world: World,
    as_user: Callable[[str], dict[str, str]],
    db: psycopg.Connection,
) -> None:
    db.execute("UPDATE devices SET metadata = %s WHERE id = 'a-cam-2'", (Jsonb(_nested(400)),))
    db.execute("UPDATE devices SET metadata = '[1, 2]' WHERE id = 'a-spk-1'")
    db.execute(
        "UPDATE device_events SET data = %s WHERE device_id = %s", (Jsonb(_nested(400)), DEVICE)
    )
    for user in ("admin", "op_a"):
        r = client.get("/api/v1/devices", headers=as_user(user))
        assert r.status_code == 200, r.text
        by_id = {d["id"]: d for d in r.json()["data"]}
        assert "_invalid" in by_id["a-cam-2"]["metadata"]
        assert "_invalid" in by_id["a-spk-1"]["metadata"]
        assert by_id["a-cam-1"]["metadata"] == {}
    r = client.get(f"/api/v1/devices/{DEVICE}/events", headers=as_user("admin"))
    assert r.status_code == 200 and "_invalid" in r.json()["data"][0]["data"]


def test_yaml_alias_bomb_in_metadata_is_refused_quickly(
    client: httpx.Client, world: World, as_user: Callable[[str], dict[str, str]]
) -> None:
    """Nine levels of ten aliases: 10^9 elements in a few lines of YAML."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    body = "\n".join(f"      {line}" for line in lines)
    content = (
        'devices:\n  - id: x-bomb\n    type: camera\n    commune: "21025"\n    name: bomb\n'
        f"    metadata:\n{body}\n"
    )
    r = client.post(
        "/api/v1/devices/import",
        json={"format": "yaml", "content": content},
        headers=as_user("admin"),
        timeout=20,
    )
    assert r.status_code == 422, r.text
    assert "elements" in r.text or "levels deep" in r.text, r.text


def test_token_lifetime_out_of_range_is_a_usage_error(db_url: str) -> None:
    """`ioc users create --expires-days 10**8` overflowed the expiry date; now a usage error."""
    from click.testing import CliRunner

    from api.cli import users

    result = CliRunner().invoke(
        users,
        ["create", "someone", "--role", "operator", "--expires-days", "100000000"],
        env={"IOC_DATABASE_URL": db_url},
    )
    assert result.exit_code == 2, result.output
    assert "3650" in result.output


def test_property_any_instant_on_any_time_parameter_is_never_a_500(
    client: httpx.Client, world: World, as_user: Callable[[str], dict[str, str]]
) -> None:
    """Instants drawn over Python's whole datetime range, with every UTC offset, on every time
    input (a seeded generator, not Hypothesis: the server's threads use the global ``random``,
    which Hypothesis reports as a flaky strategy)."""
    import random
    from datetime import datetime, timedelta, timezone

    rng = random.Random(19)
    span = (datetime.max - datetime.min).total_seconds()

    def instant() -> datetime:
        tz = timezone(timedelta(minutes=rng.randint(-14 * 60, 14 * 60)))
        edge = rng.random()
        if edge < 0.3:  # within a day of either end, where offsets overflow
            base = datetime.min if edge < 0.15 else datetime.max - timedelta(days=1)
            naive = base + timedelta(seconds=rng.uniform(0, 86_399))
        else:
            naive = datetime.min + timedelta(seconds=rng.uniform(0, span - 1))
        return naive.replace(tzinfo=tz)

    params = list(_time_params(client.get("/openapi.json").json()))
    headers = as_user("tech_a")
    for _ in range(60):
        value, other = instant(), instant()
        index = rng.randint(0, len(params))
        if index == len(params):  # the silence body
            body = {
                "matchers": [{"label": "commune", "value": A}],
                "starts_at": value.isoformat(),
                "ends_at": other.isoformat(),
                "comment": "x",
            }
            r = client.post("/api/v1/silences", json=body, headers=headers)
        else:
            path, method, name = params[index]
            extra = {"metric": "fps"} if path.endswith("/telemetry") else {}
            r = client.request(
                method, _fill(path), params={name: value.isoformat(), **extra}, headers=headers
            )
        assert r.status_code < 500, (r.request.url, r.text)
    assert client.get("/api/v1/silences", headers=headers).status_code == 200
