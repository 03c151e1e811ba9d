"""The parts of a local HA cluster: timing knobs, ports, running as ``postgres``, one node."""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ioc.errors import ConfigError


@dataclass(frozen=True)
class Timing:
    """Patroni's failure detection knobs (``loop_wait + 2 * retry_timeout <= ttl``; Patroni
    raises a ttl below 20 to 20). A dead leader is replaced about ttl + loop_wait later."""

    ttl: int = 30
    loop_wait: int = 10
    retry_timeout: int = 10

    def __post_init__(self) -> None:
        if self.ttl < 20:
            raise ConfigError(f"Patroni's ttl is at least 20 s; got {self.ttl}")
        if self.loop_wait + 2 * self.retry_timeout > self.ttl:
            raise ConfigError(
                f"Patroni needs loop_wait + 2 * retry_timeout <= ttl; got {self.loop_wait} + "
                f"2 * {self.retry_timeout} > {self.ttl}"
            )


def pg_bindir() -> str:
    """PostgreSQL's binaries (``pg_config --bindir``)."""
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ConfigError(f"pg_config is not usable ({exc}); install PostgreSQL's server") from exc
    return out.stdout.strip()


def as_postgres_prefix() -> list[str]:
    """The command prefix that runs a node as ``postgres`` (empty unless we are root)."""
    if os.geteuid() != 0:
        return []
    try:
        user = pwd.getpwnam("postgres")
    except KeyError as exc:
        raise ConfigError("running as root needs a `postgres` OS user (PostgreSQL's)") from exc
    return [
        "unshare",
        "--user",
        f"--map-user={user.pw_uid}",
        f"--map-group={user.pw_gid}",
        "--",
    ]


@dataclass
class Node:
    """One Patroni member and the PostgreSQL it runs."""

    number: int
    pg_port: int
    api_port: int
    dir: Path
    proc: subprocess.Popen[bytes] | None = None
    died_at: float | None = None

    @property
    def name(self) -> str:
        return f"node-{self.number}"

    @property
    def data(self) -> Path:
        return self.dir / "data"

    def postmaster_pid(self) -> int | None:
        """The running postmaster's pid (from postmaster.pid), or None."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (and is not a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def kill_quietly(pid: int, sig: signal.Signals) -> None:
    """Signal ``pid`` unless it is gone already."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def read_env(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of a ``db.env`` file."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}
