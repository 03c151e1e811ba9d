"""Zalo fixtures: the fake Zalo API, the webhook and channels on it."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from alerts.notify.channels.base import Outgoing
from alerts.notify.channels.factory import build_channel
from alerts.notify.config import NotifyConfig
from alerts.notify.settings import NotifySetup
from alerts.notify.templates import Rendered, local_zone
from alerts.zalo.service import build_webhook
from alerts.zalo.settings import ZaloSettings
from alerts.zalo.webhook import ZaloWebhook
from tests.alerts.chatapps import issue_link_code
from tests.alerts.notify.helpers import notify_setup
from tests.alerts.zalo.fakezalo import FakeZalo
from tests.util import wait_until

APP_ID = "4100000000000000001"
APP_SECRET = "app-secret-test"
OA_SECRET = "oa-secret-test"
SEED_REFRESH = "rt-seed"
_msg_ids = itertools.count(1)


@pytest.fixture
def fake() -> Iterator[FakeZalo]:
    """The fake Zalo API on a loopback port."""
    with FakeZalo(APP_ID, APP_SECRET, SEED_REFRESH) as f:
        yield f


@pytest.fixture
def settings(fake: FakeZalo) -> NotifySetup:
    """Zalo settings pointing every base URL at the fake."""
    zalo = ZaloSettings(
        app_id=APP_ID,
        app_secret=APP_SECRET,
        oa_secret=OA_SECRET,
        refresh_token=SEED_REFRESH,
        api_url=fake.url,
        oauth_url=fake.url,
        zns_url=fake.url,
        webhook_listen="127.0.0.1:0",
        inbox_interval_s=0.05,
    )
    return notify_setup(zalo=zalo)


@pytest.fixture
def webhook(pool: ConnectionPool, settings: NotifySetup) -> Iterator[ZaloWebhook]:
    """The webhook and its inbox worker, running."""
    hook = build_webhook(pool, settings.zalo, local_zone(settings.notify.timezone))
    assert hook is not None
    hook.start()
    yield hook
    hook.stop()


class Users:
    """Plays Zalo users: signed webhook events for texts and button presses."""

    def __init__(self, fake: FakeZalo, hook: ZaloWebhook, db: psycopg.Connection) -> None:
        self.fake = fake
        self.url = f"http://127.0.0.1:{hook.port}/hooks/zalo"
        self.db = db

    def post(self, event: dict[str, Any], **sign: Any) -> httpx.Response:
        """POST one event, signed unless told otherwise."""
        body = json.dumps(event, ensure_ascii=False)
        ts = str(sign.get("timestamp", event.get("timestamp", "")))
        mac = sign.get("mac") or self.fake.sign(body, ts, OA_SECRET)
        return httpx.post(self.url, content=body.encode(), headers={"X-ZEvent-Signature": mac})

    def say(self, user_id: str, text: str, msg_id: str | None = None) -> httpx.Response:
        """``user_send_text`` (what a tapped oa.query.hide button also sends)."""
        event = {
            "app_id": APP_ID,
            "user_id_by_app": "900" + user_id,
            "event_name": "user_send_text",
            "timestamp": str(int(time.time() * 1000)),
            "sender": {"id": user_id},
            "recipient": {"id": "oa-1"},
            "message": {"text": text, "msg_id": msg_id or f"msg-{next(_msg_ids)}"},
        }
        return self.post(event)

    def processed(self, outcome_prefix: str, count: int = 1) -> None:
        """Wait until ``count`` inbox events came to an outcome starting with the prefix."""
        wait_until(
            lambda: (self.db.execute(
                "SELECT count(*) FROM ioc_auth.zalo_inbox WHERE outcome LIKE %s", (outcome_prefix + "%",)
            ).fetchone() or (0,))[0] >= count,
            10,
            message=f"inbox outcome {outcome_prefix}",
        )  # fmt: skip


@pytest.fixture
def users(fake: FakeZalo, webhook: ZaloWebhook, db: psycopg.Connection) -> Users:
    """The Zalo users' side."""
    return Users(fake, webhook, db)


@pytest.fixture
def link(db: psycopg.Connection, users: Users) -> Callable[[str, str], None]:
    """Link a Zalo user to a console user with a one-time code (``/lienket CODE``)."""

    def do(name: str, zalo_id: str) -> None:
        code = f"Z{abs(hash((name, zalo_id))) % 10**7:07d}"
        issue_link_code(db, name, code)
        assert users.say(zalo_id, f"/lienket {code}").status_code == 200
        wait_until(lambda: any("Đã liên kết" in t for t in users.fake.texts_to(zalo_id)), 10,
                   message="link reply")  # fmt: skip

    return do


def routes(receiver: dict[str, Any]) -> NotifyConfig:
    """A routes file with this zalo receiver and a fallback webhook receiver ``mail``."""
    return NotifyConfig.model_validate(
        {
            "receivers": [
                {"name": "zl", "zalo": receiver},
                {"name": "mail", "webhook": {"url": "http://127.0.0.1:9/none"}},
            ],
            "default_receiver": "zl",
        }
    )


@pytest.fixture
def channel(
    pool: ConnectionPool, settings: NotifySetup
) -> Iterator[Callable[[dict[str, Any]], Any]]:
    """Build Zalo channels for a receiver config (closed at teardown)."""
    built = []

    def make(receiver: dict[str, Any]) -> Any:
        config = routes(receiver)
        ch = build_channel(config.receivers[0], settings, pool, config)
        built.append(ch)
        return ch

    yield make
    for ch in built:
        ch.close()


def note(alert_ids: list[int], notification_id: int = 1, kind: str = "firing") -> Outgoing:
    """An outgoing firing message about these alerts."""
    payload = {
        "kind": kind,
        "alerts": [
            {"id": i, "status": "firing", "commune_name": "Xã A", "started_at": "2026-12-07T08:00"}
            for i in alert_ids
        ],
    }
    return Outgoing(
        id=notification_id,
        dedup_key=f"k{notification_id}",
        receiver="zl",
        kind=kind,
        group_key="g",
        payload=payload,
        attempt=1,
        language="vi",
        rendered=Rendered("[ĐANG CẢNH BÁO]", "[ĐANG CẢNH BÁO] Xã A: mất kết nối\n"),
        public_url="http://ioc.test",
    )
