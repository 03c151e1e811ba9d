"""Collector fixtures: a real Debian snmpd on a free loopback UDP port, inventories, a runner."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SNMPD = shutil.which("snmpd") or "/usr/sbin/snmpd"
COMMUNITY = "t3st-c0mmunity"
V3_USER, V3_AUTH, V3_PRIV = "iocv3", "auth-pass-123", "priv-pass-123"
# UPS-MIB (RFC 1628) values served through snmpd's `override`: on battery, 7 minutes left.
UPS_OVERRIDES = {
    "1.3.6.1.2.1.33.1.2.1.0": 3,  # upsBatteryStatus: low
    "1.3.6.1.2.1.33.1.2.3.0": 7,  # upsEstimatedMinutesRemaining
    "1.3.6.1.2.1.33.1.2.4.0": 41,  # upsEstimatedChargeRemaining
    "1.3.6.1.2.1.33.1.4.1.0": 5,  # upsOutputSource: battery
    "1.3.6.1.2.1.33.1.4.4.1.5.1": 63,  # upsOutputPercentLoad
}


def free_udp_port() -> int:
    """A UDP port free on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Snmpd:
    """A running snmpd: where it listens and its credentials."""

    port: int
    proc: subprocess.Popen[bytes]
    dir: Path


def start_snmpd(port: int | None = None) -> Snmpd:
    """Start snmpd with a test-owned config on a free (or the given) port; wait until it answers."""
    if not Path(SNMPD).exists():
        pytest.skip("snmpd is not installed (apt-get install -y snmpd snmp)")
    work = Path(tempfile.mkdtemp(prefix="ioc-snmpd-"))
    conf = work / "snmpd.conf"
    lines = [
        f"rocommunity {COMMUNITY} 127.0.0.1",
        f"createUser {V3_USER} SHA {V3_AUTH} AES {V3_PRIV}",
        f"rouser {V3_USER} priv",
        *(f"override {oid} integer {value}" for oid, value in UPS_OVERRIDES.items()),
    ]
    conf.write_text("\n".join(lines) + "\n")
    port = port or free_udp_port()
    proc = subprocess.Popen(
        [
            SNMPD,
            "-f",
            "-Lf",
            str(work / "log"),
            "-C",
            "-c",
            str(conf),
            f"--persistentDir={work}",
            "-p",
            str(work / "pid"),
            f"udp:127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"snmpd exited: {(work / 'log').read_text(errors='replace')}")
        if _answers(port):
            return Snmpd(port, proc, work)
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("snmpd did not answer within 10 s")


def _answers(port: int) -> bool:
    from collector.checks.base import Target
    from collector.checks.snmp import SnmpCheck, SnmpParams

    check = SnmpCheck(
        Target("probe", "link", "00000", "127.0.0.1", 60),
        SnmpParams(port=port, community_env="C", timeout_s=0.3, retries=0),
        {"C": COMMUNITY}.__getitem__,
    )

    async def probe() -> bool:
        try:
            await check.poll()
            return True
        except Exception:
            return False
        finally:
            await check.close()

    return asyncio.run(probe())


@pytest.fixture(scope="session")
def snmpd() -> Iterator[Snmpd]:
    """One snmpd for the session (read-only: tests cannot disturb each other)."""
    agent = start_snmpd()
    yield agent
    agent.proc.terminate()
    agent.proc.wait(timeout=10)
    shutil.rmtree(agent.dir, ignore_errors=True)
