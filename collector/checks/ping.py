"""``ping``: an ICMP echo burst per interval → ``online``, ``rtt_ms``, ``loss_pct``, ``jitter_ms``.

Three ways to send ICMP, chosen once at start (and logged): raw sockets (root or CAP_NET_RAW),
unprivileged ICMP datagram sockets (``net.ipv4.ping_group_range``), else the ``fping`` binary.
An unreachable device is a valid answer (``online: false``, 100 % loss), not a check error.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import logging
import re
import shutil
import socket
import statistics
from functools import cache
from typing import ClassVar, Literal

from pydantic import Field

from collector.checks.base import Check, CheckError, CheckParams, Sample
from collector.protocols.errors import IcmpError
from collector.protocols.icmp import shared_pinger

log = logging.getLogger(__name__)

Mode = Literal["raw", "unprivileged", "fping"]


@cache
def icmp_mode() -> Mode:
    """The best ICMP method this process may use (raw, unprivileged, fping)."""
    for kind, mode in ((socket.SOCK_RAW, "raw"), (socket.SOCK_DGRAM, "unprivileged")):
        try:
            socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP).close()
            return mode  # type: ignore[return-value]
        except OSError:
            continue
    if shutil.which("fping"):
        return "fping"
    raise CheckError("no ICMP: no raw socket, no unprivileged ICMP socket, no fping", kind="setup")


class PingParams(CheckParams):
    """Burst size, spacing and per-echo timeout."""

    count: int = Field(3, ge=1, le=20)
    spacing_s: float = Field(0.2, ge=0.01, le=5)
    timeout_s: float = Field(1.0, gt=0, le=10)


class PingCheck(Check):
    """ICMP echo burst."""

    name: ClassVar[str] = "ping"
    Params: ClassVar[type[CheckParams]] = PingParams

    async def poll(self) -> Sample:
        p = self.params
        assert isinstance(p, PingParams)
        mode = icmp_mode()
        if mode == "raw":
            rtts = await _raw(self.target.address, p)
        else:
            async with _bursts():
                if mode == "fping":
                    rtts = await _fping(self.target.address, p)
                else:
                    rtts = await _icmplib(self.target.address, p, privileged=False)
        return summarise(rtts, p.count)


async def _raw(address: str, p: PingParams) -> list[float]:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                address, None, family=socket.AF_INET
            )
        except OSError as exc:
            raise CheckError(f"ping {address}: cannot resolve: {exc}", kind="address") from None
        address = str(infos[0][4][0])
    try:
        pinger = shared_pinger()
    except IcmpError as exc:
        raise CheckError.of(exc) from None
    rtts = []
    for i in range(p.count):
        if i:
            await asyncio.sleep(p.spacing_s)
        rtt = await pinger.echo(address, p.timeout_s)
        if rtt is not None:
            rtts.append(rtt)
    return rtts


# Bursts in flight with the fallbacks (a socket or a process each): bounded.
MAX_BURSTS = 64
_SEMAPHORES: dict[int, asyncio.Semaphore] = {}


def _bursts() -> asyncio.Semaphore:
    key = id(asyncio.get_running_loop())
    if key not in _SEMAPHORES:
        _SEMAPHORES.clear()
        _SEMAPHORES[key] = asyncio.Semaphore(MAX_BURSTS)
    return _SEMAPHORES[key]


def summarise(rtts: list[float], sent: int) -> Sample:
    """Metrics of one burst from the round-trip times of the echoes that came back."""
    loss = 100.0 * (sent - len(rtts)) / sent
    metrics: dict[str, float | bool | str] = {"online": bool(rtts), "loss_pct": round(loss, 2)}
    if rtts:
        metrics["rtt_ms"] = round(statistics.fmean(rtts), 3)
        diffs = [abs(b - a) for a, b in itertools.pairwise(rtts)]
        metrics["jitter_ms"] = round(statistics.fmean(diffs), 3) if diffs else 0.0
    return Sample(metrics=metrics)


async def _icmplib(address: str, p: PingParams, privileged: bool) -> list[float]:
    from icmplib import async_ping
    from icmplib.exceptions import ICMPLibError

    try:
        host = await async_ping(
            address,
            count=p.count,
            interval=p.spacing_s,
            timeout=p.timeout_s,
            privileged=privileged,
        )
    except ICMPLibError as exc:  # name resolution, bad address, socket refused
        raise CheckError(f"ping {address}: {exc}", kind="ping") from exc
    return [float(r) for r in host.rtts]


FPING_RTT = re.compile(r"\[\d+\], \d+ bytes, ([0-9.]+) ms")


async def _fping(address: str, p: PingParams) -> list[float]:
    proc = await asyncio.create_subprocess_exec(
        "fping",
        "-C",
        str(p.count),
        "-p",
        str(int(p.spacing_s * 1000)),
        "-t",
        str(int(p.timeout_s * 1000)),
        "-q",
        "-e",
        address,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    # fping -C prints "host : 0.04 0.05 -" on stderr; "-" is a lost echo.
    text = err.decode(errors="replace")
    line = next((ln for ln in text.splitlines() if ln.startswith(address + " ")), None)
    if line is None:
        raise CheckError(f"fping {address}: {text.strip()[:200]}", kind="ping")
    return [float(v) for v in line.split(":", 1)[1].split() if v != "-"]
