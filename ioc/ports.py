"""Loopback ports for the processes the demo, the benchmarks and the tests start: a free one,
and waiting until one is listening."""

from __future__ import annotations

import socket

from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_delay, wait_fixed


def free_port() -> int:
    """A TCP port free on loopback right now (the OS picks it; bind soon after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on loopback right now (all bound at once, so no port
    comes back twice)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_listening(port: int, timeout_s: float, host: str = "127.0.0.1") -> None:
    """Return once something accepts TCP connections at ``host:port`` (tried every 0.05 s);
    ``TimeoutError`` after ``timeout_s``."""
    try:
        for attempt in Retrying(
            retry=retry_if_exception_type(OSError),
            wait=wait_fixed(0.05),
            stop=stop_after_delay(timeout_s),
        ):
            with attempt:
                socket.create_connection((host, port), timeout=0.2).close()
    except RetryError:
        raise TimeoutError(f"nothing listens at {host}:{port} after {timeout_s:g} s") from None
