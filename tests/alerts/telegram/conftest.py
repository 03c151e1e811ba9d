"""Telegram fixtures: a fake Bot API, the receiver and the channel."""

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
from tests.alerts.chatapps import issue_link_code
from tests.alerts.telegram.fakebot import FakeBotApi

TOKEN = "123456:test-secret-token"
CHAT = -100200300


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
        issue_link_code(db, name, code)
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
