"""A free TCP port on loopback, for the processes the demo, the benchmarks and the tests start."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port free on loopback right now (the OS picks it; bind soon after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
