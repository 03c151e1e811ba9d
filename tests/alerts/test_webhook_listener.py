"""The chat apps' webhook listener (``alerts.chatops.listener``) on the bounded ASGI server."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from alerts.chatops.listener import Answer, Headers, webhook_listener
from ioc.boundedhttp import Listener
from tests.util import wait_until

DEADLINE_S = 1.0


@pytest.fixture
def server() -> Iterator[tuple[Listener, list[bytes]]]:
    got: list[bytes] = []

    def accept(raw: bytes, headers: Headers) -> Answer:
        if raw == b"boom":
            raise RuntimeError("handler bug")
        got.append(raw)
        return 200, {"status": "ok"}

    srv = webhook_listener(
        "127.0.0.1:0",
        "/hook",
        accept,
        name="test-webhook",
        max_body=100,
        max_connections=2,
        deadline_s=DEADLINE_S,
        allowed=lambda h: h.get("X-Secret") == "s",
    )
    srv.start()
    yield srv, got
    srv.stop()


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        return s.recv(200)


def test_statuses_before_and_after_the_body(
    server: tuple[Listener, list[bytes]],
) -> None:
    srv, got = server
    port = srv.port
    url = f"http://127.0.0.1:{port}"
    ok = {"X-Secret": "s"}
    assert httpx.post(f"{url}/hook?x=1", content=b"{}", headers=ok).status_code == 200
    assert httpx.post(f"{url}/other", content=b"{}", headers=ok).status_code == 404
    assert httpx.post(f"{url}/hook", content=b"{}").status_code == 403
    assert httpx.post(f"{url}/hook", content=b"x" * 101, headers=ok).status_code == 413
    assert httpx.post(f"{url}/hook", content=b"boom", headers=ok).status_code == 500
    assert b" 411 " in _raw(port, b"POST /hook HTTP/1.1\r\nHost: x\r\nX-Secret: s\r\n\r\n")
    assert b" 400 " in _raw(
        port, b"POST /hook HTTP/1.1\r\nHost: x\r\nX-Secret: s\r\nContent-Length: -1\r\n\r\n"
    )
    huge = (
        b"POST /hook HTTP/1.1\r\nHost: x\r\nX-Secret: s\r\nContent-Length: 99999999999999\r\n\r\n"
    )
    assert b" 413 " in _raw(port, huge)
    assert b" 400 " in _raw(port, b"GARBAGE\r\n\r\n")
    assert got == [b"{}"]
    assert srv.sock.getsockname()[1] == port


def test_slow_clients_are_cut_at_the_deadline_and_the_cap_answers_503(
    server: tuple[Listener, list[bytes]],
) -> None:
    srv, _ = server
    port = srv.port
    slow = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
    try:
        for s in slow:
            s.sendall(
                b"POST /hook HTTP/1.1\r\nHost: x\r\nX-Secret: s\r\nContent-Length: 50\r\n\r\n{"
            )
        # Both slots taken (within the 1 s deadline): a third connection is refused at once.
        wait_until(
            lambda: b" 503 " in _raw(port, b"POST /hook HTTP/1.1\r\nHost: x\r\n\r\n"), DEADLINE_S
        )
        started = time.monotonic()
        for s in slow:  # dripping does not extend the deadline
            while True:
                try:
                    s.sendall(b" ")
                except OSError:
                    break
                s.settimeout(0.05)
                try:
                    if s.recv(100) == b"":
                        break
                except TimeoutError:
                    pass
                except OSError:  # reset: the server closed it and the next byte met a RST
                    break
                assert time.monotonic() - started < 5 * DEADLINE_S, "slow client not cut"
        assert srv.refused >= 1
    finally:
        for s in slow:
            s.close()
    with httpx.Client() as c:
        assert (
            c.post(
                f"http://127.0.0.1:{port}/hook", content=b"{}", headers={"X-Secret": "s"}
            ).status_code
            == 200
        )
