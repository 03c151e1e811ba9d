"""Hostile Telegram traffic: replayed presses, bad update ids, huge or dripping answers,
/start floods, non-ASCII callback data, slow webhook clients (issue 23, class 6)."""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from alerts.chatops.signed import decode
from alerts.notify.templates import local_zone
from alerts.telegram.botapi import BotApi, BotApiError
from alerts.telegram.callback import key_for
from alerts.telegram.handler import BotHandler
from alerts.telegram.receiver import TelegramReceiver
from alerts.telegram.webhook import WebhookReceiver
from ioc.ports import free_port
from tests.alerts.telegram.conftest import TOKEN
from tests.alerts.telegram.fakebot import FakeBotApi
from tests.alerts.telegram.test_telegram import TECH_A_TG, _button, _linked
from tests.api.conftest import World
from tests.util import wait_until

# Digits that str.isdigit() accepts but are not ASCII: Arabic-Indic, Devanagari, full width,
# superscripts, Thai, Bengali, mathematical bold.
ODD_DIGITS = "٠١٢٣٤٥٦٧٨٩०१२३४५६७८९０１２３４５６７８９²³¹๑๒๓১২৩𝟏𝟐𝟑"


def _handler(pool: ConnectionPool, api: BotApi, link_limit: str = "5/minute") -> BotHandler:
    return BotHandler(
        pool, api, key_for(TOKEN), local_zone("Asia/Ho_Chi_Minh"), link_limit=link_limit
    )


def test_replayed_presses_act_once(
    bot: FakeBotApi,
    db: psycopg.Connection,
    world: World,
    receiver: TelegramReceiver,
    notify: Callable[[list[int]], int],
    link_code: Callable[[str], str],
) -> None:
    _linked(bot, db, link_code, "tech_a", TECH_A_TG)
    alert = world.alerts["a_warn"]
    message = notify([alert])
    rng = random.Random(23)
    presses = [a for a in ("s2h", "ack", "me") for _ in range(rng.randint(3, 6))]
    rng.shuffle(presses)
    queries = [bot.press(TECH_A_TG, message, _button(bot, message, a, alert)) for a in presses]
    answers = [wait_until(lambda q=q: bot.answer_to(q), 10, message="answer") for q in queries]
    assert len(answers) == len(presses)
    assert db.execute("SELECT count(*) FROM silences").fetchone() == (1,)
    history = db.execute(
        "SELECT action, count(*) FROM alert_history WHERE alert_id = %s AND actor = 'tech_a' "
        "GROUP BY action ORDER BY action",
        (alert,),
    ).fetchall()
    assert history == [("acknowledged", 1), ("assigned", 1)]
    again = [a["text"] for a in answers]
    assert sum("đã được tạm tắt đến" in t for t in again) == presses.count("s2h") - 1


def test_presses_on_a_resolved_alert_are_refused(
    bot: FakeBotApi,
    db: psycopg.Connection,
    world: World,
    receiver: TelegramReceiver,
    notify: Callable[[list[int]], int],
    link_code: Callable[[str], str],
) -> None:
    _linked(bot, db, link_code, "tech_a", TECH_A_TG)
    alert = world.alerts["a_warn"]
    message = notify([alert])
    buttons = {a: _button(bot, message, a, alert) for a in ("ack", "me", "s2h")}
    db.execute("UPDATE alerts SET state = 'resolved', resolved_at = now() WHERE id = %s", (alert,))
    for action, data in buttons.items():
        query = bot.press(TECH_A_TG, message, data)
        answer = wait_until(lambda q=query: bot.answer_to(q), 10, message=f"{action} refusal")
        assert answer["show_alert"] is True and "đã khắc phục" in answer["text"]
    assert db.execute("SELECT count(*) FROM silences").fetchone() == (0,)
    row = db.execute("SELECT acknowledged_by, assignee FROM alerts WHERE id = %s", (alert,))
    assert row.fetchone() == (None, None)


def test_non_ascii_digits_in_callback_data_are_answered(
    bot: FakeBotApi,
    db: psycopg.Connection,
    world: World,
    receiver: TelegramReceiver,
    notify: Callable[[list[int]], int],
    link_code: Callable[[str], str],
) -> None:
    _linked(bot, db, link_code, "tech_a", TECH_A_TG)
    message = notify([world.alerts["a_root"]])
    rng = random.Random(6)
    key = key_for(TOKEN)
    datas = []
    for _ in range(12):
        digits = "".join(rng.choice(ODD_DIGITS) for _ in range(rng.randint(1, 4)))
        datas.append(f"{rng.choice(['ack', 'me', 's2h'])}:{digits}:{'A' * rng.randint(1, 12)}")
    for data in datas:
        assert decode(key, data) is None  # never raises
    queries = [bot.press(TECH_A_TG, message, d) for d in datas]
    for q in queries:
        answer = wait_until(lambda q=q: bot.answer_to(q), 10, message="refusal of odd digits")
        assert "không hợp lệ" in answer["text"]


def test_bad_update_ids_are_skipped_once_and_the_offset_moves(
    bot: FakeBotApi, pool: ConnectionPool, db: psycopg.Connection
) -> None:
    api = BotApi(bot.url, TOKEN)
    rx = TelegramReceiver(pool, api, _handler(pool, api), lambda: True, retry_s=0.01)
    rng = random.Random(70)
    bad_ids: list[object] = [2**70, 2**63, -rng.randint(1, 10**9), "12", 1.5, True, None, [1]]
    rng.shuffle(bad_ids)

    def help_request(chat: int) -> dict[str, object]:
        sender = {"id": chat, "is_bot": False, "first_name": "x", "language_code": "vi"}
        return {"message": {"chat": {"id": chat}, "from": sender, "text": "/start"}}

    good = 5000
    for i, bad in enumerate(bad_ids):
        bot.push_raw({"update_id": bad, **help_request(9000 + i)})
        bot.push_raw({"update_id": good + i, **help_request(8000 + i)})
    handled = sum(rx.poll_once(timeout_s=0) for _ in range(4))
    assert handled == len(bad_ids)
    for i in range(len(bad_ids)):
        assert len(bot.sent_to(8000 + i)) == 1  # each good update handled exactly once
        assert bot.sent_to(9000 + i) == []  # a bad one never
    (stored,) = db.execute("SELECT update_offset FROM telegram_state").fetchone() or (0,)
    assert stored >= good + len(bad_ids)  # past every good one; rounds of only bad ones too
    api.close()


def _read_request(conn: socket.socket) -> None:
    """Read a whole request (closing with a part unread would reset the connection)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n")
         if line.lower().startswith(b"content-length:")),
        0,
    )  # fmt: skip
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


class _HostileServer:
    """Answers every POST with a body that is too large, or one byte at a time."""

    def __init__(self, mode: str, size: int = 0, drip_s: float = 0.0) -> None:
        self.mode, self.size, self.drip_s = mode, size, drip_s
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                _read_request(conn)
                if self.mode == "large":  # a valid-looking answer with no declared length
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
                    conn.sendall(b'{"ok": true, "result": [' + b" " * self.size + b"]}")
                else:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
                    conn.sendall(b"Content-Length: 1000000\r\n\r\n")
                    while not self.stop.is_set():
                        conn.sendall(b" ")
                        time.sleep(self.drip_s)
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def hostile() -> Iterator[Callable[..., _HostileServer]]:
    made: list[_HostileServer] = []

    def make(mode: str, **kw: float) -> _HostileServer:
        made.append(_HostileServer(mode, **kw))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for server in made:
        server.close()


@pytest.mark.parametrize("size", [300_000, 2_000_000])
def test_a_large_get_updates_answer_is_refused(
    hostile: Callable[..., _HostileServer], size: int
) -> None:
    server = hostile("large", size=size)
    api = BotApi(server.url, TOKEN, timeout_s=5, max_bytes=100_000)
    with pytest.raises(BotApiError, match="larger than 100000 bytes"):
        api.get_updates(0, 0)
    api.close()


def test_a_dripping_get_updates_answer_is_cut_at_the_deadline(
    hostile: Callable[..., _HostileServer],
) -> None:
    server = hostile("drip", drip_s=0.05)
    api = BotApi(server.url, TOKEN, timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(BotApiError, match="not complete within"):
        api.call("getUpdates", {"offset": 0, "timeout": 0}, timeout_s=1.0)
    assert time.monotonic() - started < 3.0
    api.close()


def test_start_codes_are_throttled_per_chat(
    bot: FakeBotApi, pool: ConnectionPool, db: psycopg.Connection, world: World
) -> None:
    api = BotApi(bot.url, TOKEN)
    rx = TelegramReceiver(pool, api, _handler(pool, api, "3/minute"), lambda: True)
    rng = random.Random(300)
    attacker, bystander = 4242, 4343
    for _ in range(40):
        code = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(8))
        bot.say(attacker, f"/start {code}")
    bot.say(bystander, "/start WRONG123")
    while rx.poll_once(timeout_s=0):
        pass
    texts = bot.sent_to(attacker)
    assert sum("sai, đã dùng" in t for t in texts) == 3
    assert sum("Quá nhiều lần" in t for t in texts) == 1
    assert len(bot.sent_to(bystander)) == 1  # another chat is not throttled by the attacker
    api.close()


def test_webhook_listener_cuts_slow_clients_and_caps_connections(
    bot: FakeBotApi, pool: ConnectionPool
) -> None:
    api = BotApi(bot.url, TOKEN)
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    rx = WebhookReceiver(
        api, _handler(pool, api), lambda: False, url, f"127.0.0.1:{port}",
        max_connections=8, deadline_s=1.0,
    )  # fmt: skip
    rx.start()
    slow: list[socket.socket] = []
    try:
        for _ in range(40):  # slowloris: partial headers, a byte now and then
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"POST /telegram/hook HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)
        deadline = time.monotonic() + 4.0
        closed: set[int] = set()
        while len(closed) < len(slow) and time.monotonic() < deadline:
            for i, s in enumerate(slow):
                if i in closed:
                    continue
                try:
                    s.sendall(b"X")
                    s.settimeout(0.01)
                    if s.recv(1024) == b"":
                        closed.add(i)
                except TimeoutError:
                    pass
                except OSError:
                    closed.add(i)
            time.sleep(0.1)
        assert len(closed) == len(slow), f"{len(slow) - len(closed)} slow clients still open"
        assert rx.server.refused >= len(slow) - 8
        ok = socket.create_connection(("127.0.0.1", port), timeout=5)
        ok.sendall(b"POST /telegram/hook HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        assert ok.recv(1024).startswith(b"HTTP/1.1 403")  # served again (no secret: 403)
        ok.close()
    finally:
        for s in slow:
            s.close()
        rx.stop()


def test_tokens_are_hidden_from_httpx_logs_whatever_clients_are_open(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    first, second = BotApi("http://127.0.0.1:9", "111:first"), BotApi("http://127.0.0.1:9", TOKEN)
    for url in (first.base, second.base):
        logging.getLogger("httpx").info('HTTP Request: POST %s "HTTP/1.1 200 OK"', url + "/x")
    second.close()
    second.close()  # twice: the other client's token stays hidden
    logging.getLogger("httpx").info("HTTP Request: POST %s", first.base)
    first.close()
    assert caplog.text.count("/bot***") == 3
    assert "first" not in caplog.text and "test-secret-token" not in caplog.text
