"""A NATS cluster on loopback (``ioc bus local`` and the tests): config files, processes, env.

Each node gets its own directory, a client port, a cluster (route) port and an MQTT port, all
free loopback ports chosen at start; a node restarted keeps its ports and its JetStream data.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ioc.ports import free_ports

CLUSTER_NAME = "ioc"
AUTH_FILE = "auth.conf"  # included by every node; `ioc devices credentials write` fills it
START_TIMEOUT_S = 20.0
PR_SET_PDEATHSIG = 1


def nats_binary() -> str:
    """Path of ``nats-server`` (Debian installs it in /usr/sbin)."""
    found = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not Path(found).exists():
        raise RuntimeError("nats-server is not installed (Debian: apt-get install nats-server)")
    return found


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the process that started the node dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass
class Node:
    """One nats-server of the cluster."""

    index: int
    dir: Path
    client_port: int
    route_port: int
    mqtt_port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return f"n{self.index}"

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    @property
    def conf(self) -> Path:
        return self.dir / f"node-{self.index}.conf"

    @property
    def pid_file(self) -> Path:
        return self.dir / f"node-{self.index}.pid"

    @property
    def log_file(self) -> Path:
        return self.dir / f"node-{self.index}.log"


def node_conf(node: Node, routes: list[int], replicas: int, auth: bool) -> str:
    """nats-server configuration of one node (same shape as deploy/nats/node-N.conf)."""
    route_list = ", ".join(f"nats-route://127.0.0.1:{p}" for p in routes)
    cluster = (
        f"cluster {{\n  name: {CLUSTER_NAME}\n  listen: 127.0.0.1:{node.route_port}\n"
        f"  routes: [{route_list}]\n}}\n"
        if len(routes) > 1
        else ""
    )
    include = f'include "{AUTH_FILE}"\n' if auth else ""
    return (
        f"server_name: {node.name}\n"
        f"listen: 127.0.0.1:{node.client_port}\n"
        f'pid_file: "{node.pid_file}"\n'
        f"max_payload: 1MB\n"
        f'jetstream {{\n  store_dir: "{node.dir / node.name}"\n  max_file_store: 4GB\n}}\n'
        f"{cluster}"
        # stream_replicas: the MQTT streams (the stored QoS 1 publishes) on `replicas` nodes.
        f"mqtt {{\n  listen: 127.0.0.1:{node.mqtt_port}\n  stream_replicas: {replicas}\n"
        f"  max_ack_pending: 65535\n}}\n"
        f"{include}"
    )


class LocalCluster:
    """``nodes`` nats-servers on loopback in ``directory``; start/kill/restart each."""

    def __init__(self, directory: Path, nodes: int = 3, auth: bool = False) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.auth = auth
        ports = free_ports(3 * nodes)
        self.nodes = [
            Node(i + 1, self.dir, ports[3 * i], ports[3 * i + 1], ports[3 * i + 2])
            for i in range(nodes)
        ]
        self.replicas = min(3, nodes)
        if auth and not (self.dir / AUTH_FILE).exists():
            (self.dir / AUTH_FILE).write_text("# written by `ioc devices credentials write`\n")

    @property
    def mqtt_urls(self) -> list[str]:
        return [n.mqtt_url for n in self.nodes]

    @property
    def nats_urls(self) -> list[str]:
        return [n.nats_url for n in self.nodes]

    def env(self) -> dict[str, str]:
        """The IOC_* variables a client of this cluster needs."""
        return {
            "IOC_BUS": "nats",
            "IOC_MQTT_URL": self.mqtt_urls[0],
            "IOC_MQTT_URLS": ",".join(self.mqtt_urls),
            "IOC_MQTT_PROTOCOL": "3.1.1",
            "IOC_NATS_URLS": ",".join(self.nats_urls),
        }

    def write_env(self) -> Path:
        """Write DIR/bus.env (KEY=value lines)."""
        path = self.dir / "bus.env"
        path.write_text("".join(f"{k}={v}\n" for k, v in self.env().items()))
        return path

    def start(self, prepare: bool = True) -> LocalCluster:
        """Start every node, wait until each listens, then (``prepare``) make the MQTT streams
        and ingest's durable consumer so nothing published from now on is dropped."""
        for node in self.nodes:
            self.start_node(node.index, wait=False)
        for node in self.nodes:
            self._wait_listening(node)
        if prepare:
            from ioc.bus.consumer import prepare as make_consumer

            make_consumer(self.nats_urls, self.mqtt_urls[0])
        self.write_env()
        return self

    def node(self, index: int) -> Node:
        return self.nodes[index - 1]

    def start_node(self, index: int, wait: bool = True) -> None:
        """(Re)start node ``index`` with its ports and data of before."""
        node = self.node(index)
        routes = [n.route_port for n in self.nodes]
        node.conf.write_text(node_conf(node, routes, self.replicas, self.auth))
        node.pid_file.unlink(missing_ok=True)
        with node.log_file.open("ab") as log:
            node.proc = subprocess.Popen(
                [nats_binary(), "-c", str(node.conf)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C of `ioc bus local` reaches only the parent
                preexec_fn=_die_with_parent,
            )
        if wait:
            self._wait_listening(node)

    def _wait_listening(self, node: Node) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        for port in (node.client_port, node.mqtt_port):
            while True:
                if node.proc is not None and node.proc.poll() is not None:
                    tail = node.log_file.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"nats-server {node.name} exited: {tail}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{node.name} not listening on {port}") from None
                    time.sleep(0.05)
        # the pid file is written by nats-server itself; wait for it too
        while not node.pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def kill_node(self, index: int, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to node ``index`` and wait for it to exit."""
        node = self.node(index)
        if node.proc is not None and node.proc.poll() is None:
            os.kill(node.proc.pid, sig)
            try:
                node.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:  # a node that will not stop is not waited for
                node.proc.kill()
                node.proc.wait(timeout=15)

    def restart_node(self, index: int, sig: int = signal.SIGTERM) -> None:
        self.kill_node(index, sig)
        self.start_node(index)

    def reload(self) -> None:
        """Make every running node re-read its configuration (and the auth file)."""
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                os.kill(node.proc.pid, signal.SIGHUP)

    def stop(self) -> None:
        for node in self.nodes:
            self.kill_node(node.index, signal.SIGTERM)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
