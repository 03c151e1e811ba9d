"""A local PostgreSQL cluster under Patroni with one etcd member, all on free loopback ports.

``LocalHa(dir).start()`` starts etcd and N Patroni nodes (each runs its own PostgreSQL) and
writes what people and tests need into ``dir``: ``db.env`` (the multi-host URLs),
``node-N.port``, ``node-N.patroni.pid`` and ``node-N.postgres.pid`` (kept current by
``supervise()``: a failover or a restart changes the postmaster). ``supervise()`` also restarts
a Patroni that died, as systemd would, once its leader key has had time to expire, so a killed
leader comes back as a replica (pg_rewind) instead of reclaiming its key.

PostgreSQL refuses to run as root. Run as root, the nodes run in a user namespace in which they
are the ``postgres`` user (``unshare --map-user``): files stay owned by the caller outside, and
the interpreter need not be readable by the real ``postgres`` account.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from ioc.errors import ConfigError
from ioc.ha.node import Node, Timing, as_postgres_prefix, kill_quietly, pg_bindir
from ioc.ports import free_port

log = logging.getLogger(__name__)

SCOPE = "ioc"
ETCD = "etcd"


class PortTaken(Exception):
    """A free port was taken by another process before ours bound it."""


@dataclass
class LocalHa:
    """etcd + ``nodes`` Patroni-managed PostgreSQL servers under ``dir``."""

    dir: Path
    nodes: int = 2
    timing: Timing = field(default_factory=Timing)
    timescaledb: bool = False
    members: list[Node] = field(default_factory=list)
    etcd: subprocess.Popen[bytes] | None = None
    etcd_port: int = 0

    @property
    def archive(self) -> Path:
        """The WAL archive every node's primary term writes to."""
        return self.dir / "wal-archive"

    # --- addresses ------------------------------------------------------------------------
    def url(self, attrs: str = "read-write", dbname: str = "ioc") -> str:
        """The multi-host URL of every node with ``target_session_attrs=attrs``."""
        hosts = ",".join(f"127.0.0.1:{n.pg_port}" for n in self.members)
        return f"postgresql://postgres@{hosts}/{dbname}?target_session_attrs={attrs}"

    def patronictl(self, *args: str) -> list[str]:
        """A ``patronictl`` command line for this cluster."""
        code = "from patroni.ctl import ctl; ctl()"
        return [sys.executable, "-c", code, "-c", str(self.dir / "node-1.yml"), *args]

    # --- life cycle -----------------------------------------------------------------------
    def start(self, timeout: float = 120.0) -> None:
        """Start etcd and every node; return when a leader and its replicas stream."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)
        self.archive.mkdir(exist_ok=True)
        self._start_etcd()
        bindir = pg_bindir()
        for number in range(1, self.nodes + 1):
            node = Node(number, free_port(), free_port(), self.dir / f"node-{number}")
            node.dir.mkdir(exist_ok=True)
            node.dir.chmod(0o700)
            (self.dir / f"{node.name}.port").write_text(f"{node.pg_port}\n")
            self.members.append(node)
        for node in self.members:
            config = self._node_config(node, bindir)
            (self.dir / f"{node.name}.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        for node in self.members:
            self._start_patroni(node)
            if node.number == 1:  # the first one bootstraps; the others clone from it
                self.wait_members(1, timeout)
        self.wait_members(self.nodes, timeout)
        self.write_files()

    def _start_etcd(self, attempts: int = 3) -> None:
        """Start etcd; on a port taken meanwhile by someone else, again on other ports."""

        def taken(state: RetryCallState) -> None:
            log.warning("etcd's port was taken meanwhile (attempt %d)", state.attempt_number)

        try:
            Retrying(
                retry=retry_if_exception_type(PortTaken),
                stop=stop_after_attempt(attempts),
                after=taken,
            )(self._try_etcd)
        except RetryError:
            raise ConfigError(f"etcd found no free port in {attempts} attempts") from None

    def _try_etcd(self) -> None:
        self.etcd_port, peer = free_port(), free_port()
        client, peer_url = f"http://127.0.0.1:{self.etcd_port}", f"http://127.0.0.1:{peer}"
        log_file = (self.dir / "etcd.log").open("ab")
        self.etcd = subprocess.Popen(
            [
                ETCD,
                "--name=ioc-etcd",
                f"--data-dir={self.dir / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=ioc-etcd={peer_url}",
                "--initial-cluster-state=new",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        (self.dir / "etcd.pid").write_text(f"{self.etcd.pid}\n")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.etcd.poll() is not None:
                if "address already in use" in (self.dir / "etcd.log").read_text()[-2000:]:
                    raise PortTaken()
                raise ConfigError(f"etcd exited ({self.etcd.returncode}); see {self.dir}/etcd.log")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{client}/health", timeout=1).json().get("health") == "true":
                    return
            time.sleep(0.2)
        raise ConfigError(f"etcd did not become healthy in 30 s; see {self.dir}/etcd.log")

    def _node_config(self, node: Node, bindir: str) -> dict[str, Any]:
        t = self.timing
        parameters: dict[str, Any] = {
            "max_connections": 100,
            "shared_buffers": "64MB",
            "wal_keep_size": "128MB",
            # The primary waits for the replica's flush before a commit returns (Patroni's
            # synchronous_mode): an acknowledged reading survives the primary's death.
            "synchronous_commit": "on",
            # Every finished WAL segment of the primary goes to one archive, the other half of
            # a base backup (pg_basebackup) for point-in-time recovery: docs/ha.md.
            "archive_mode": "on",
            "archive_command": f"test ! -f {self.archive}/%f && cp %p {self.archive}/%f",
            "archive_timeout": "60s",
        }
        if self.timescaledb:
            parameters |= {
                "shared_preload_libraries": "timescaledb",
                "timescaledb.telemetry_level": "off",
                "max_worker_processes": 32,
            }
        user = {"username": "postgres"}
        return {
            "scope": SCOPE,
            "name": node.name,
            "log": {"level": "INFO"},
            "restapi": {
                "listen": f"127.0.0.1:{node.api_port}",
                "connect_address": f"127.0.0.1:{node.api_port}",
            },
            "etcd3": {"hosts": f"127.0.0.1:{self.etcd_port}"},
            "bootstrap": {
                "dcs": {
                    "ttl": t.ttl,
                    "loop_wait": t.loop_wait,
                    "retry_timeout": t.retry_timeout,
                    "maximum_lag_on_failover": 1048576,
                    "synchronous_mode": True,
                    "postgresql": {"use_pg_rewind": True, "parameters": parameters},
                },
                "initdb": [{"encoding": "UTF8"}, {"auth": "trust"}, "data-checksums"],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{node.pg_port}",
                "connect_address": f"127.0.0.1:{node.pg_port}",
                "data_dir": str(node.data),
                "bin_dir": bindir,
                "pgpass": str(node.dir / "pgpass"),
                "authentication": {"superuser": user, "replication": user, "rewind": user},
                "parameters": {"unix_socket_directories": str(node.dir)},
                "pg_hba": [
                    "local all all trust",
                    "host all all 127.0.0.1/32 trust",
                    "host replication all 127.0.0.1/32 trust",
                ],
            },
            "tags": {"nofailover": False, "noloadbalance": False},
        }

    def _start_patroni(self, node: Node) -> None:
        log_file = (node.dir / "patroni.log").open("ab")
        cmd = [*as_postgres_prefix(), sys.executable, "-m", "patroni"]
        node.proc = subprocess.Popen(
            [*cmd, str(self.dir / f"{node.name}.yml")],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        node.died_at = None
        (self.dir / f"{node.name}.patroni.pid").write_text(f"{node.proc.pid}\n")

    # --- state ----------------------------------------------------------------------------
    def cluster(self) -> list[dict[str, Any]]:
        """Patroni's view of the members (``GET /cluster`` on the first node that answers)."""
        for node in self.members:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                reply = httpx.get(f"http://127.0.0.1:{node.api_port}/cluster", timeout=2)
                members = reply.json().get("members", [])
                if isinstance(members, list):
                    return members
        return []

    def leader(self) -> str | None:
        """The leader's member name when it is running, else None."""
        for m in self.cluster():
            if m.get("role") in ("leader", "master", "primary") and m.get("state") == "running":
                return str(m["name"])
        return None

    def wait_members(self, count: int, timeout: float) -> None:
        """Wait until a leader runs and ``count - 1`` replicas stream from it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            members = self.cluster()
            leader = any(m.get("role") == "leader" and m.get("state") == "running" for m in members)
            streaming = [m for m in members if m.get("state") == "streaming"]
            if leader and len(streaming) >= count - 1:
                return
            for node in self.members:
                if node.proc is not None and node.proc.poll() is not None and node.died_at is None:
                    raise ConfigError(f"{node.name}'s Patroni exited; see {node.dir}/patroni.log")
            time.sleep(0.3)
        raise ConfigError(f"the cluster did not get {count} running members in {timeout:.0f} s")

    def write_files(self) -> None:
        """``db.env`` and the pid files (the postmaster's changes across restarts)."""
        env = (
            f"IOC_DATABASE_URL={self.url('read-write')}\n"
            f"IOC_READ_DATABASE_URL={self.url('prefer-standby')}\n"
        )
        env_file = self.dir / "db.env"
        if not env_file.exists() or env_file.read_text() != env:
            env_file.write_text(env)
        for node in self.members:
            pid = node.postmaster_pid()
            pid_file = self.dir / f"{node.name}.postgres.pid"
            if pid is not None:
                pid_file.write_text(f"{pid}\n")

    def supervise(self) -> None:
        """One round: refresh pid files; restart a dead Patroni once its key has expired."""
        self.write_files()
        delay = self.timing.ttl + 2 * self.timing.loop_wait
        for node in self.members:
            if node.proc is None or node.proc.poll() is None:
                continue
            now = time.monotonic()
            if node.died_at is None:
                node.died_at = now
                log.warning("%s's Patroni died; restarting it in %d s", node.name, delay)
            elif now - node.died_at >= delay:
                stale = node.postmaster_pid()
                if stale is not None and self.leader() not in (None, node.name):
                    log.warning("%s: stopping its orphaned postmaster %d", node.name, stale)
                    kill_quietly(stale, signal.SIGKILL)
                log.warning("%s: restarting Patroni", node.name)
                self._start_patroni(node)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every node (Patroni stops its PostgreSQL), then etcd."""
        for node in self.members:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.terminate()
        deadline = time.monotonic() + timeout
        for node in self.members:
            if node.proc is None:
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.proc.wait(max(0.1, deadline - time.monotonic()))
            if node.proc.poll() is None:
                node.proc.kill()
                node.proc.wait()
            pid = node.postmaster_pid()
            if pid is not None:
                kill_quietly(pid, signal.SIGQUIT)
        if self.etcd is not None and self.etcd.poll() is None:
            self.etcd.terminate()
            try:
                self.etcd.wait(10)
            except subprocess.TimeoutExpired:
                self.etcd.kill()
                self.etcd.wait()
