"""A Patroni cluster for the failover tests: `ioc db local-ha` itself, run as a subprocess.

Shrunk timing (ttl 20 — Patroni's minimum —, loop_wait 2, retry_timeout 4) keeps a failover near
25 s. Skips, saying why, where etcd, Patroni or PostgreSQL's binaries are missing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ioc.ha.node import read_env
from tests.util import wait_until

TIMING = ["--ttl", "20", "--loop-wait", "2", "--retry-timeout", "4"]
FIGURES: list[str] = []  # measured pauses and counts, shown in the terminal summary (CI's log)


def report(line: str) -> None:
    """Print a measured figure now (-s) and again in pytest's terminal summary."""
    print(f"\n{line}")
    FIGURES.append(line)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The HA figures of this run, also without -s."""
    if FIGURES:
        terminalreporter.section("PostgreSQL failover (tests/ha)")
        for line in FIGURES:
            terminalreporter.write_line(line)


IOC = [sys.executable, "-c", "from ioc.cli import main; main()"]


def cluster_missing() -> str | None:
    """Why a local Patroni cluster cannot run here, or None."""
    if shutil.which("etcd") is None:
        return "etcd is not installed (Debian: etcd-server)"
    if importlib.util.find_spec("patroni") is None:
        return "Patroni is not installed (pip install '.[ha]')"
    if shutil.which("pg_config") is None:
        return "pg_config is not installed (PostgreSQL's server)"
    return None


class Ha:
    """`ioc db local-ha --dir DIR` running; what its files say, and ways to hurt it."""

    def __init__(self, extra: list[str] | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ioc-ha-"))
        self.log = self.dir / "local-ha.log"
        cmd = [*IOC, "db", "local-ha", "--dir", str(self.dir), *TIMING, *(extra or [])]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        wait_until(
            lambda: (self.dir / "db.env").exists() or self.proc.poll() is not None,
            180,
            0.2,
            message="ioc db local-ha wrote db.env",
        )
        if self.proc.poll() is not None:
            raise RuntimeError(f"ioc db local-ha exited: {self.log.read_text()[-3000:]}")
        env = read_env(self.dir / "db.env")
        self.url = env["IOC_DATABASE_URL"]
        self.read_url = env["IOC_READ_DATABASE_URL"]

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of an `ioc` subprocess on this cluster."""
        return {**os.environ, "IOC_DATABASE_URL": self.url, **extra}

    def ioc(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run an `ioc` command against the cluster."""
        return subprocess.run(
            [*IOC, *args], env=self.env(**env), capture_output=True, text=True, timeout=120
        )

    def node_url(self, name: str, dbname: str = "ioc") -> str:
        """A single-node URL."""
        port = (self.dir / f"{name}.port").read_text().strip()
        return f"postgresql://postgres@127.0.0.1:{port}/{dbname}"

    def members(self) -> list[dict[str, Any]]:
        """Patroni's member list (REST API of the node that answers)."""
        for conf in sorted(self.dir.glob("node-*.yml")):
            listen = yaml.safe_load(conf.read_text())["restapi"]["listen"]
            try:
                reply = httpx.get(f"http://{listen}/cluster", timeout=2)
                return list(reply.json().get("members", []))
            except (httpx.HTTPError, ValueError):
                continue
        return []

    def leader(self) -> str | None:
        """The running leader's name."""
        for m in self.members():
            if m.get("role") == "leader" and m.get("state") == "running":
                return str(m["name"])
        return None

    def healthy(self) -> bool:
        """A running leader and every other node streaming from it, one as its synchronous
        standby (Patroni switches over only to that one: synchronous_mode)."""
        members = self.members()
        nodes = len(list(self.dir.glob("node-*.yml")))
        streaming = [m for m in members if m.get("state") == "streaming"]
        sync = [m for m in streaming if m.get("role") == "sync_standby"]
        return self.leader() is not None and len(streaming) == nodes - 1 and len(sync) == 1

    def kill_leader(self) -> str:
        """kill -9 the leader's Patroni and postmaster; returns its name."""
        name = str(wait_until(self.leader, 30, 0.2, message="a leader"))
        for kind in ("patroni", "postgres"):
            pid = int((self.dir / f"{name}.{kind}.pid").read_text())
            os.kill(pid, signal.SIGKILL)
        return name

    def switchover(self) -> tuple[str, str]:
        """`patronictl switchover` to the replica; returns (old, new) leader names."""
        old = str(wait_until(self.leader, 30, 0.2, message="a leader"))
        new = next(m["name"] for m in self.members() if m["name"] != old)
        cmd = [sys.executable, "-c", "from patroni.ctl import ctl; ctl()"]
        conf = str(self.dir / "node-1.yml")
        args = ["-c", conf, "switchover", "--leader", old, "--candidate", new, "--force"]
        out = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        return old, new

    def close(self) -> None:
        """Ctrl-C the command (it stops the nodes and etcd), then delete everything."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not os.environ.get("IOC_TEST_HA_KEEP"):  # set it to read the logs after a failure
            shutil.rmtree(self.dir, ignore_errors=True)


def start_ha(extra: list[str] | None = None) -> Ha:
    """Start a cluster and migrate its `ioc` database with `ioc migrate`."""
    why = cluster_missing()
    if why:
        pytest.skip(why)
    ha = Ha(extra)
    try:
        out = ha.ioc("migrate")
        assert out.returncode == 0, out.stderr[-3000:]
        wait_until(ha.healthy, 60, 0.3, message="replica streaming")
    except BaseException:
        ha.close()
        raise
    return ha


@pytest.fixture(scope="module")
def ha() -> Iterator[Ha]:
    """A 2-node cluster for this module (tests leave it with a leader and a streaming replica)."""
    cluster = start_ha()
    try:
        yield cluster
    finally:
        cluster.close()


def wait_healthy(ha: Ha, timeout: float = 90) -> None:
    """Wait until the old leader rejoined as a streaming replica."""
    wait_until(ha.healthy, timeout, 0.5, message="leader + streaming replica")


def seconds_since(t: float) -> float:
    """Seconds since ``time.monotonic()`` value ``t``."""
    return time.monotonic() - t
