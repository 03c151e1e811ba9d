"""Telegram fixtures: a fake Bot API, the seeded API world, the receiver and the channel."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from alerts.notify.channels.base import Outgoing
from alerts.notify.channels.telegram import TelegramChannel
from alerts.notify.config import TelegramConfig
from alerts.notify.templates import Rendered
from alerts.telegram.botapi import BotApi
from alerts.telegram.callback import key_for
from alerts.telegram.handler import BotHandler
from alerts.telegram.receiver import TelegramReceiver
from api import security
from ioc.linkcode import code_digest
from tests.alerts.telegram.fakebot import FakeBotApi
from tests.api.conftest import USERS, World, seed

TOKEN = "123456:test-secret-token"
CHAT = -100200300
INSERT_CODE = """
INSERT INTO ioc_auth.telegram_link_codes (code_hash, user_id, expires_at)
SELECT %(hash)s, id, now() + interval '15 minutes' FROM ioc_auth.users WHERE name = %(name)s
"""


@pytest.fixture
def world(db: psycopg.Connection) -> World:
    """Two communes with alerts (tests/api/conftest.py) and the API's test users."""
    found = seed(db)
    for name, (role, communes) in USERS.items():
        security.create_user(db, name, role, communes, 30)
    return found


@pytest.fixture
def pool(db_url: str) -> Iterator[ConnectionPool]:
    """A pool on the test database."""
    with ConnectionPool(db_url, min_size=1, max_size=4, open=True) as p:
        p.wait(10)
        yield p


@pytest.fixture
def bot() -> Iterator[FakeBotApi]:
    """The fake Bot API on a loopback port."""
    with FakeBotApi(TOKEN) as fake:
        yield fake


@pytest.fixture
def receiver(pool: ConnectionPool, bot: FakeBotApi) -> Iterator[TelegramReceiver]:
    """The bot receiver long-polling the fake, as the leader would."""
    api = BotApi(bot.url, TOKEN)
    handler = BotHandler(pool, api, key_for(TOKEN), timezone_vn())
    rx = TelegramReceiver(pool, api, handler, lambda: True, poll_timeout_s=1, retry_s=0.2)
    rx.start()
    yield rx
    rx.stop()


def timezone_vn() -> Any:
    """Vietnam time."""
    from alerts.notify.templates import local_zone

    return local_zone("Asia/Ho_Chi_Minh")


@pytest.fixture
def link_code(db: psycopg.Connection) -> Callable[[str], str]:
    """Issue a one-time link code for a user, like the console's Telegram page."""

    def issue(name: str) -> str:
        code = f"T{abs(hash(name)) % 10**7:07d}"
        db.execute(INSERT_CODE, {"hash": code_digest(code), "name": name})
        return code

    return issue


@pytest.fixture
def notify(bot: FakeBotApi) -> Iterator[Callable[[list[int]], int]]:
    """Send a firing notification about these alert ids; return the message id."""
    channel = TelegramChannel(
        TelegramConfig(chat_id=CHAT, api_url=bot.url, timeout=timedelta(seconds=5)),
        TOKEN,
        "https://api.telegram.org",
    )

    def send(alert_ids: list[int]) -> int:
        before = set(bot.messages)
        payload = {"kind": "firing", "alerts": [{"id": i, "status": "firing"} for i in alert_ids]}
        channel.send(
            Outgoing(
                id=1,
                dedup_key="k",
                receiver="tg",
                kind="firing",
                group_key="g",
                payload=payload,
                attempt=1,
                language="vi",
                rendered=Rendered("[ĐANG CẢNH BÁO]", "[ĐANG CẢNH BÁO] Xã Tịnh Sơn: mất kết nối\n"),
                public_url="http://ioc.test",
            )
        )
        (new,) = set(bot.messages) - before
        return new

    yield send
    channel.close()
