"""Issue 23: the Telegram webhook listener under attack while the alert engine runs.

The engine leads, evaluates every 0.2 s and serves Telegram's webhook. Attackers hold slow
connections (slowloris) and flood the listener with unsigned, garbage and deeply nested posts.
The engine must keep ticking, every slow connection must be cut at the deadline, and a real
press (retried by Telegram while the listener is busy, as Telegram does) is acted on once.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest
from psycopg_pool import ConnectionPool
from pydantic import SecretStr

from alerts.chatops.signed import encode
from alerts.engine import AlertEngine
from alerts.rules import parse_rules
from alerts.settings import AlertSettings
from alerts.telegram.callback import key_for
from alerts.telegram.settings import TelegramSettings
from ioc.ports import free_port
from tests.alerts.chatapps import issue_link_code, seed_world
from tests.alerts.notify.helpers import notify_setup
from tests.alerts.telegram.fakebot import FakeBotApi
from tests.api.conftest import World
from tests.util import wait_until

TOKEN = "424242:edge-round-token"
TG_USER = 660001
RULES = "rules:\n  - {name: offline, kind: absence, types: [speaker]}\n"


@pytest.fixture
def running(
    db: psycopg.Connection, db_url: str
) -> Iterator[tuple[AlertEngine, FakeBotApi, str, World]]:
    world = seed_world(db)
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    with (
        FakeBotApi(TOKEN) as bot,
        ConnectionPool(db_url, min_size=1, max_size=6, open=True) as pool,
    ):
        telegram = TelegramSettings(
            bot_token=SecretStr(TOKEN),
            api_url=bot.url,
            webhook_url=url,
            webhook_listen=f"127.0.0.1:{port}",
            webhook_max_connections=16,
            webhook_deadline_s=1.0,
        )
        notify = notify_setup(telegram=telegram)
        settings = AlertSettings(
            pipeline_silence_s=0,
            pipeline_heartbeat_s=0,
            evaluation_interval_s=0.2,
            leader_retry_s=0.2,
            watch_ingest=False,
        )
        engine = AlertEngine(settings, pool, rules=parse_rules(RULES), notify=notify)
        engine.start()
        try:
            wait_until(lambda: bot.webhook, 15, message="setWebhook by the leader")
            yield engine, bot, url, world
        finally:
            engine.stop()


def _slowloris(port: int, stop: threading.Event, cut: list[float], survived: list[int]) -> None:
    """Waves of 20 slow clients; records how long each was held, and those never cut in 3 s."""
    while not stop.is_set():
        opened: dict[socket.socket, float] = {}
        for _ in range(20):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
                s.sendall(b"POST /telegram/hook HTTP/1.1\r\nHost: x\r\nContent-Length: 90\r\n")
                opened[s] = time.monotonic()
            except OSError:
                pass
        end = time.monotonic() + 3.0
        while opened and time.monotonic() < end:
            for s, since in list(opened.items()):
                try:
                    s.sendall(b"X")  # one byte now and then, never the end of the headers
                    s.settimeout(0.01)
                    s.recv(256)  # returns with a 503 or b"" (closed): either way, cut
                    gone = True
                except TimeoutError:
                    gone = False
                except OSError:
                    gone = True
                if gone:
                    cut.append(time.monotonic() - since)
                    del opened[s]
                    s.close()
            time.sleep(0.2)
        survived.append(len(opened))
        for s in opened:
            s.close()


def _flood(url: str, stop: threading.Event, statuses: list[int]) -> None:
    bodies: list[bytes] = [
        b"{}",
        b"\x00\xff" * 50,
        b"[" * 5000 + b"]" * 5000,
        b'{"update_id": "x"}',
    ]
    with httpx.Client(timeout=5) as client:
        for body in itertools.cycle(bodies):
            if stop.is_set():
                return
            try:
                statuses.append(client.post(url, content=body).status_code)
            except httpx.HTTPError:
                statuses.append(0)


def test_webhook_listener_under_attack_keeps_the_engine_ticking(
    running: tuple[AlertEngine, FakeBotApi, str, World],
    db: psycopg.Connection,
) -> None:
    engine, bot, url, world = running
    port = int(url.split(":")[2].split("/")[0])
    bot.say(TG_USER, "/start EDGE2300")  # links nobody: wrong code, answered
    issue_link_code(db, "tech_a", "EDGE2301")
    stop = threading.Event()
    cut: list[float] = []
    survived: list[int] = []
    statuses: list[int] = []
    ticks: list[float] = []
    attackers = [
        threading.Thread(target=_slowloris, args=(port, stop, cut, survived), daemon=True),
        threading.Thread(target=_flood, args=(url, stop, statuses), daemon=True),
    ]
    for t in attackers:
        t.start()
    try:
        started = time.monotonic()
        last = None
        while time.monotonic() - started < 6.0:
            result = engine.last_result
            if result is not None and result.now != last:
                ticks.append(time.monotonic())
                last = result.now
            time.sleep(0.05)
        # A real link and press during the attack: Telegram retries until the listener takes it.
        pushed = _retry(lambda: bot.say(TG_USER, "/start EDGE2301"))
        assert pushed, "the link message was never accepted"
        wait_until(lambda: any("Đã liên kết" in t for t in bot.sent_to(TG_USER)), 15)
        alert = world.alerts["a_root"]
        message = _send_with_button(bot, alert)
        assert _retry(lambda: bot.press(TG_USER, message, encode(key_for(TOKEN), "ack", alert)))
        wait_until(
            lambda: (
                db.execute("SELECT acknowledged_by FROM alerts WHERE id = %s", (alert,)).fetchone()
                == ("tech_a",)
            ),
            15,
            message="the press acted on",
        )
    finally:
        stop.set()
        for t in attackers:
            t.join(10)
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) >= 10 and max(gaps) < 2.0, f"engine ticks {len(ticks)}, gaps {gaps}"
    assert cut and max(cut) < 2.5, f"slow clients held up to {max(cut, default=0):.1f} s"
    assert sum(survived) == 0, f"{sum(survived)} slow clients outlived the 1 s deadline"
    assert statuses and set(statuses) <= {0, 400, 403, 503}, set(statuses)
    history = db.execute(
        "SELECT count(*) FROM alert_history WHERE alert_id = %s AND action = 'acknowledged'",
        (world.alerts["a_root"],),
    ).fetchone()
    assert history == (1,)


def _retry(push: Callable[[], object], within: float = 20.0) -> bool:
    """Push an update the way Telegram does: again after a failed delivery."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            push()
            return True
        except httpx.HTTPError:
            time.sleep(0.3)
    return False


def _send_with_button(bot: FakeBotApi, alert: int) -> int:
    """A bot message about ``alert`` carrying its ack button (what the channel sends)."""
    data = encode(key_for(TOKEN), "ack", alert)
    markup = {"inline_keyboard": [[{"text": "Xác nhận", "callback_data": data}]]}
    body = {"chat_id": TG_USER, "text": "[ĐANG CẢNH BÁO]", "reply_markup": markup}
    answer = httpx.post(f"{bot.url}/bot{TOKEN}/sendMessage", json=body, timeout=5).json()
    return int(answer["result"]["message_id"])
