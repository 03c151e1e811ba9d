"""The loopback port helpers shared by the demo, the benchmarks and the tests."""

from __future__ import annotations

import socket

import pytest

from ioc.ports import free_port, wait_listening


def test_wait_listening_returns_once_something_listens() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        wait_listening(server.getsockname()[1], 2.0)


def test_wait_listening_gives_up_after_its_timeout() -> None:
    with pytest.raises(TimeoutError, match="nothing listens"):
        wait_listening(free_port(), 0.2)
