"""The console's collectors page (the fleet view of GET /api/v1/collectors)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import psycopg

from tests.api.test_collectors_fleet import seed_fleet


def test_the_console_shows_each_collectors_version(
    db: psycopg.Connection, console: Callable[..., httpx.Client]
) -> None:
    seed_fleet(db)
    page = console("op_a").get("/console/collectors")
    assert page.status_code == 200, page.text
    assert 'id="collector-col-a"' in page.text and "col-b" not in page.text
    assert '<span class="version">0.1.0</span>' in page.text and "1234" in page.text
