"""The console's link code also links a Zalo account (``/lienket CODE`` to the OA)."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import psycopg

from alerts.chatops.signed import derive_key
from alerts.notify.templates import local_zone
from alerts.zalo.handler import EventHandler
from tests.api.conftest import World
from tests.console.conftest import csrf_of


def test_console_code_links_zalo_once(
    console: Callable[..., httpx.Client], db: psycopg.Connection, world: World
) -> None:
    c = console("tech_a")
    page = c.get("/console/telegram")
    r = c.post("/console/telegram/code", data={"csrf": csrf_of(page.text)})
    code = re.search(r"/lienket ([A-Z0-9]{8})", r.text)
    assert code, r.text
    handler = EventHandler(derive_key("s", "zalo-button"), local_zone("Asia/Ho_Chi_Minh"))
    done = handler.link(db, "7777", code.group(1).lower())
    assert done.outcome == "linked: tech_a" and "Đã liên kết" in done.replies[0][1]
    assert handler.link(db, "7778", code.group(1)).outcome == "link: bad code"  # one time only
    row = db.execute(
        "SELECT u.name FROM ioc_auth.zalo_links l JOIN ioc_auth.users u ON u.id = l.user_id"
    ).fetchall()
    assert row == [("tech_a",)]
    audit = db.execute("SELECT actor FROM audit_log WHERE action = 'link' AND object_type = 'zalo'")
    assert audit.fetchall() == [("tech_a",)]
