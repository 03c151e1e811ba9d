"""Stored silences with infinite or absurd bounds are tolerated by every job: the engine,
``ioc maintain --once``, the API listing and the console (issue 23, class 7).

Rows are written by SQL (as by hand or by an older version, the CHECK dropped first), drawn at
random from bounds PostgreSQL takes and Python cannot hold.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from click.testing import CliRunner
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from alerts.engine import AlertEngine
from alerts.rules import parse_rules
from alerts.settings import AlertSettings
from ioc.cli import cli
from tests.api.conftest import A, World

NOW = datetime.now(UTC)
INSTANTS: list[Any] = [
    "-infinity",
    "infinity",
    "0001-01-01 00:00:00+00",
    "4713-01-01 00:00:00+00 BC",
    "9999-12-31 23:59:59+00",
    "10000-01-01 00:00:00+00",
    "294276-12-31 23:59:59+00",
    NOW - timedelta(days=3),
    NOW - timedelta(hours=1),
    NOW + timedelta(hours=1),
]
EXPIRED: list[Any] = [None, None, "infinity", "-infinity", "9999-12-31 23:59:59+00", NOW]
MATCHERS: list[Any] = [
    [{"label": "device", "op": "=", "value": "a-cam-1"}],
    [{"label": "commune", "op": "=", "value": A}],
    [{"label": "device", "op": "=~", "value": "a-.*"}],
    [{"label": "site", "op": "=", "value": "a-ubnd"}],
]
RECURRENCE: list[Any] = [
    None,
    {"every": "daily", "start": "02:00", "end": "03:00", "tz": "Asia/Ho_Chi_Minh"},
    {"every": "weekly", "start": "22:00", "end": "01:00", "days": ["sat"]},
    {"every": "daily", "start": "02:00", "end": "03:00", "tz": "Mars/Olympus"},
]
INSERT = """
INSERT INTO silences (matchers, starts_at, ends_at, expired_at, recurrence, created_by, comment)
VALUES (%s, %s::timestamptz, %s::timestamptz, %s::timestamptz, %s, 'sql', 'absurd')
"""
DROP_CHECK = """
DO $$ DECLARE c text; BEGIN
  FOR c IN SELECT conname FROM pg_constraint
           WHERE conrelid = 'silences'::regclass AND contype = 'c' LOOP
    EXECUTE format('ALTER TABLE silences DROP CONSTRAINT %I', c);
  END LOOP;
END $$
"""


def _absurd_rows(db: psycopg.Connection, rng: random.Random, n: int) -> None:
    db.execute(DROP_CHECK)
    fixed = [  # the three named in the issue, always there
        ("-infinity", "infinity", None),
        (NOW - timedelta(days=1), "9999-12-31 23:59:59+00", None),
        (NOW + timedelta(days=1), NOW - timedelta(days=1), None),  # starts after it ends
    ]
    rows = fixed + [
        (rng.choice(INSTANTS), rng.choice(INSTANTS), rng.choice(EXPIRED)) for _ in range(n)
    ]
    for starts, ends, expired in rows:
        rec = rng.choice(RECURRENCE)
        db.execute(
            INSERT,
            (
                Jsonb(rng.choice(MATCHERS)),
                starts,
                ends,
                expired,
                Jsonb(rec) if rec else None,
            ),
        )


def test_every_job_tolerates_absurd_silence_bounds(
    db: psycopg.Connection,
    db_url: str,
    world: World,
    console: Callable[..., httpx.Client],
    as_user: Callable[[str], dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _absurd_rows(db, random.Random(), 40)

    with ConnectionPool(db_url, min_size=1, max_size=2, open=True) as pool:
        engine = AlertEngine(
            AlertSettings(pipeline_silence_s=0, pipeline_heartbeat_s=0),
            pool,
            rules=parse_rules("rules:\n  - {name: offline, kind: absence, types: [camera]}\n"),
        )
        engine.evaluate_once()  # raises on failure

    monkeypatch.setenv("IOC_DATABASE_URL", db_url)
    monkeypatch.setenv("IOC_ROLLUP_LAG_S", "0")
    result = CliRunner().invoke(cli, ["maintain", "--once"])
    assert result.exit_code == 0, result.output

    session = console("admin")
    for state in (None, "active", "pending", "expired"):
        params = {"limit": 500, **({"state": state} if state else {})}
        r = session.get("/api/v1/silences", params=params, headers=as_user("admin"))
        assert r.status_code == 200, r.text
        for item in r.json()["data"]:
            assert item["starts_at"] and item["ends_at"]
    page = session.get("/console/silences")
    assert page.status_code == 200, page.text
