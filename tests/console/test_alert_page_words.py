"""The alert page says how long, what to check first and what the value means; assigning
takes only someone from the pick list."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import psycopg
from psycopg.types.json import Jsonb

from tests.api.conftest import World
from tests.console.conftest import csrf_of


def test_duration_runbook_and_value_in_words(
    console: Callable[..., httpx.Client], db: psycopg.Connection, world: World
) -> None:
    alert = world.alerts["a_warn"]
    runbook = {"vi": "Kiểm tra cầu chì bộ khuếch đại", "en": "Check the amplifier fuse"}
    db.execute(
        "UPDATE alerts SET value = 0, started_at = now() - interval '25 minutes 10 seconds', "
        "annotations = %s WHERE id = %s",
        (Jsonb({"metric": "amp_ok", "runbook": runbook}), alert),
    )
    c = console("tech_a")
    html = c.get(f"/console/alerts/{alert}").text
    assert "đã 25 phút" in html and "Cách xử lý" in html and runbook["vi"] in html
    assert "Bộ khuếch đại: hỏng" in html and "0.0" not in html
    c.get("/console/lang/en", params={"next": "/console/"})
    html = c.get(f"/console/alerts/{alert}").text
    assert "for 25 minutes" in html and "What to do" in html and runbook["en"] in html
    assert "Amplifier: faulty" in html


def test_assign_only_to_someone_on_the_list(
    console: Callable[..., httpx.Client], db: psycopg.Connection, world: World
) -> None:
    alert = world.alerts["a_root"]
    c = console("tech_a")
    html = c.get(f"/console/alerts/{alert}").text
    assert '<select name="assignee"' in html and '<option value="tech_a"' in html
    assert '<option value="op_a"' not in html  # operators do not fix devices
    token = csrf_of(html)
    r = c.post(f"/console/alerts/{alert}/assign", data={"csrf": token, "assignee": "ghost"})
    assert r.status_code == 422 and "Không giao được: ghost" in r.text
    assert db.execute("SELECT assignee FROM alerts WHERE id = %s", (alert,)).fetchone() == (None,)
    r = c.post(f"/console/alerts/{alert}/assign", data={"csrf": token, "assignee": "tech_a"})
    assert r.status_code == 303
    row = db.execute("SELECT assignee FROM alerts WHERE id = %s", (alert,)).fetchone()
    assert row == ("tech_a",)
