"""An alert is assigned only to an existing technician or admin who sees its commune, through
the API, the console and ``ioc.ops.actions`` itself (Telegram's path) (issue 23, class 7)."""

from __future__ import annotations

import random
import string
from collections.abc import Callable

import httpx
import psycopg
import pytest

from api import security
from ioc.ops import actions
from tests.api.conftest import World
from tests.console.conftest import csrf_of


def _strangers(rng: random.Random, n: int) -> list[str]:
    letters = string.ascii_letters + "ăâđêôơưạảấầẩẫậ _.-"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(1, 40))).strip() or "x"
            for _ in range(n)]  # fmt: skip


def _refused(db: psycopg.Connection) -> list[tuple[str, str | None]]:
    return db.execute("SELECT fingerprint, assignee FROM alerts ORDER BY id").fetchall()


def test_assignees_must_exist_act_and_see_the_commune(
    client: httpx.Client,
    console: Callable[..., httpx.Client],
    as_user: Callable[[str], dict[str, str]],
    db: psycopg.Connection,
    world: World,
) -> None:
    security.create_user(db, "gone_tech", "technician", [], 30)
    security.revoke_user(db, "gone_tech")
    rng = random.Random()
    b_alert = world.alerts["b_root"]  # commune B
    wrong = {
        **{name: "no active user" for name in _strangers(rng, 8)},
        "gone_tech": "no active user",
        "operator": "may not act on alerts",
        "op_a": "may not act on alerts",
        "tech_a": "does not see commune",  # a technician of commune A only
        "admin_a": "does not see commune",
    }
    before = _refused(db)
    page = console("admin")
    token = csrf_of(page.get(f"/console/alerts/{b_alert}").text)
    for name, why in wrong.items():
        r = client.post(
            f"/api/v1/alerts/{b_alert}/assign", json={"assignee": name}, headers=as_user("admin")
        )
        assert r.status_code == 422 and why in r.text, (name, r.text)
        assert r.json()["detail"][0]["loc"] == ["body", "assignee"]
        r = page.post(f"/console/alerts/{b_alert}/assign", data={"csrf": token, "assignee": name})
        assert r.status_code == 422 and why in r.text, (name, r.text[:300])
        with pytest.raises(actions.ActionRefused, match=why):
            actions.assign(db, b_alert, assignee=name, actor="bot", channel="telegram")
    assert _refused(db) == before
    r = client.post(
        f"/api/v1/alerts/{b_alert}/assign", json={"assignee": "tech"}, headers=as_user("admin")
    )
    assert r.status_code == 200 and r.json()["assignee"] == "tech"
