"""The ping check with real ICMP: loopback answers; a host in a test-made namespace does not."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from collector.checks.base import Target
from collector.checks.ping import PingCheck, PingParams, _fping, icmp_mode, summarise


def _check(address: str, **params: object) -> PingCheck:
    target = Target("cam", "camera", "21025", address, 60)
    return PingCheck(target, PingParams.model_validate(params), lambda name: "")


def test_loopback_answers() -> None:
    sample = asyncio.run(_check("127.0.0.2", count=3, spacing_s=0.05).poll())
    assert sample.metrics["online"] is True
    assert sample.metrics["loss_pct"] == 0.0
    assert 0 < float(sample.metrics["rtt_ms"]) < 100
    assert float(sample.metrics["jitter_ms"]) >= 0
    assert icmp_mode() in ("raw", "unprivileged", "fping")


@pytest.mark.skipif(shutil.which("fping") is None, reason="fping not installed")
def test_fping_fallback_parses_its_output() -> None:
    rtts = asyncio.run(_fping("127.0.0.3", PingParams(count=2, spacing_s=0.05)))
    assert len(rtts) == 2 and all(r > 0 for r in rtts)


def test_summary_of_partial_loss() -> None:
    sample = summarise([1.0, 3.0], sent=4)
    assert sample.metrics == {"online": True, "loss_pct": 50.0, "rtt_ms": 2.0, "jitter_ms": 2.0}
    assert summarise([], sent=3).metrics == {"online": False, "loss_pct": 100.0}


PROBE = """
import asyncio, json, sys
from collector.checks.base import Target
from collector.checks.ping import PingCheck, PingParams
check = PingCheck(Target("x", "camera", "21025", sys.argv[1], 60),
                  PingParams(count=2, spacing_s=0.05, timeout_s=0.3), lambda n: "")
print(json.dumps(asyncio.run(check.poll()).metrics))
"""


@pytest.fixture
def netns() -> Iterator[str]:
    """A network namespace with loopback up and a route to a silent /24 (10.203.0.0) over lo."""
    if shutil.which("ip") is None:
        pytest.skip("iproute2 is not installed")
    name = f"ioc-t-{uuid.uuid4().hex[:8]}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot create a network namespace here: {made.stderr.strip()}")
    try:
        for cmd in (
            ["ip", "link", "set", "lo", "up"],
            ["ip", "route", "add", "10.203.0.0/24", "dev", "lo"],
        ):
            subprocess.run(["ip", "netns", "exec", name, *cmd], check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)


def _probe_in(ns: str, address: str) -> dict[str, object]:
    out = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-c", PROBE, address],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return dict(json.loads(out.stdout))


def test_unreachable_host_is_offline_not_an_error(netns: str) -> None:
    # 10.203.0.2 is routed into the namespace's loopback: no host has it, nothing answers.
    assert _probe_in(netns, "10.203.0.2") == {"online": False, "loss_pct": 100.0}
    reachable = _probe_in(netns, "127.0.0.1")
    assert reachable["online"] is True and reachable["loss_pct"] == 0.0
