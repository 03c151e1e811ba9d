"""The compose-equivalent: docker-compose.yml's services as local processes on loopback.

No Docker here, so each service starts the way the compose file starts it, from the same files:
its `environment` (interpolated from a test `.env` made from .env.example), its `command`, and
the config files it mounts (mosquitto/compose.conf, deploy/nginx/ioc.conf.template, the
certificates of `ioc certs init`). Only addresses change: service hostnames become loopback
ports, and paths inside containers become the test's directories (``mounted`` resolves them
through the compose volumes, so the stack cannot read a file compose does not mount).

"Outside the compose network" is 127.0.0.1 (the host's published ports: nginx's https and
Mosquitto's 8883); the compose network is 127.0.0.2, where only Mosquitto's plain 1883
listener is bound, as compose publishes 1883 nowhere.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import yaml

from ioc.ports import free_port
from tests.plugins.pgcluster import PgCluster
from tests.util import wait_until

REPO = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
INSIDE = "127.0.0.2"  # the compose network
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def mounted(service: str, container_path: str) -> Path:
    """The repo file a compose service sees at ``container_path`` (through its volumes)."""
    for volume in SERVICES[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./") and container_path.startswith(target):
            return REPO / source / container_path[len(target) :].lstrip("/")
    raise LookupError(f"{service} mounts nothing at {container_path}")


def test_env() -> dict[str, str]:
    """.env.example with every change-me replaced by a random secret."""
    env = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key] = secrets.token_hex(12) if value == "change-me" else value
    return env


def interpolate(value: str, dotenv: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} from ``dotenv``."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        got = dotenv.get(name, "")
        if op.endswith("?") and not got:
            raise KeyError(f"{name}: {arg}")
        return got or (arg if op.endswith("-") else "")

    return re.sub(r"\$\{(\w+)(:?[-?])?([^}]*)\}", one, value)


class Stack:
    """Start services of docker-compose.yml as processes; ``close`` stops them all."""

    def __init__(self, timescaledb: bool = False, overrides: dict[str, str] | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ioc-stack-"))
        os.chmod(self.dir, 0o755)
        self.dotenv = test_env()
        self.overrides = overrides or {}
        self.https_port, self.http_port = free_port(), free_port()
        self.mqtt_tls_port, self.mqtt_port = free_port(), free_port()
        self.api_port = free_port()
        self.dotenv["IOC_PUBLIC_URL"] = f"https://localhost:{self.https_port}"
        self.pg = PgCluster(timescaledb=timescaledb)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.secrets: dict[str, str] = {}
        self.certs = self.dir / "certs"
        self.mosq_dir = self.dir / "mosquitto"  # ./mosquitto, as mounted read-only
        self.mosq_dir.mkdir()
        self.backup_dir = self.dir / "backup"  # the compose volume `backup`

    # --- environment ------------------------------------------------------------------------
    def env(self, service: str) -> dict[str, str]:
        """The service's compose environment, interpolated, with hostnames made loopback."""
        out: dict[str, str] = {}
        for key, raw in (SERVICES[service].get("environment") or {}).items():
            value = interpolate(str(raw), self.dotenv)
            value = value.replace("@timescaledb:5432/", f"@127.0.0.1:{self.pg.port}/")
            value = value.replace("@mosquitto:1883", f"@{INSIDE}:{self.mqtt_port}")
            value = value.replace("mqtt://mosquitto:1883", f"mqtt://{INSIDE}:{self.mqtt_port}")
            if key == "IOC_BACKUP_DIR":
                value = str(self.backup_dir)
            if key == "IOC_BACKUP_PG_BINDIR":
                value = str(self.pg.bindir)
            out[key] = value
        if "IOC_API_PORT" in out:
            out["IOC_API_HOST"], out["IOC_API_PORT"] = "127.0.0.1", str(self.api_port)
        if "IOC_INGEST_METRICS_PORT" in out:
            out["IOC_INGEST_METRICS_PORT"] = str(free_port())
        return out | self.overrides

    def ioc(self, service: str, *args: str, stdin: str | None = None) -> str:
        """Run ``ioc ARGS`` with a service's environment (like `docker compose run`)."""
        env = {"PATH": os.environ["PATH"], "HOME": str(self.dir), **self.env(service)}
        done = subprocess.run(
            [sys.executable, "-m", "ioc", *args],
            env=env,
            cwd=self.dir,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, f"ioc {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def start_service(self, service: str, *extra: str) -> None:
        """Start the service's compose command as a background process."""
        command = [str(c) for c in SERVICES[service]["command"]]
        env = {"PATH": os.environ["PATH"], "HOME": str(self.dir), **self.env(service)}
        log = (self.dir / f"{service}.log").open("wb")
        self.procs[service] = subprocess.Popen(
            [sys.executable, "-m", "ioc", *command, *extra],
            env=env,
            cwd=self.dir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop_service(self, service: str) -> None:
        """SIGTERM the service and wait (like `docker compose stop`)."""
        proc = self.procs.pop(service)
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def log(self, service: str) -> str:
        """What the service printed so far."""
        return (self.dir / f"{service}.log").read_text(errors="replace")

    # --- the services ----------------------------------------------------------------------
    def up(self) -> Stack:
        """Certificates, database, migrate, logins, broker, ingest, alerts, API, proxy."""
        self.ioc("migrate", "certs", "init", "--dir", str(self.certs))
        self._database()
        self.ioc("migrate", *SERVICES["migrate"]["command"])
        self.ioc("migrate", "devices", "import", str(REPO / "devices/data/demo_commune.yaml"))
        issued = self.ioc("migrate", "devices", "credentials", "issue", "--service", "ingest")
        self.dotenv["MQTT_INGEST_PASSWORD"] = issued.strip().splitlines()[-1].split(",")[1]
        self._mosquitto()
        self.start_service("ingest-1")
        self.start_service("alerts-1")
        self.start_service("api")
        self._nginx()
        wait_until(self._proxy_up, 60, interval=0.2, message="the API through the proxy")
        return self

    def _database(self) -> None:
        """The timescaledb service: its POSTGRES_DB is created by migrate's bootstrap."""
        self.pg.create()
        options = SERVICES["timescaledb"]["command"]
        pairs = [options[i + 1] for i, o in enumerate(options) if o == "-c"]
        # Compose's WAL archiving, into this stack's backup volume.
        self.backup_dir.mkdir()
        (self.backup_dir / "wal").mkdir()
        if os.geteuid() == 0:  # the server (as postgres) archives into it
            for path in (self.backup_dir, self.backup_dir / "wal"):
                shutil.chown(path, "postgres", "postgres")
        kept = [p.split("=", 1) for p in pairs if p.startswith("archive")]
        with (self.pg.data / "postgresql.conf").open("a") as conf:
            for key, value in kept:
                value = value.replace("/backup/", f"{self.backup_dir}/")
                conf.write(f"{key} = '{value}'\n")
        self.pg.stop()
        self.pg.start()

    def issue_device(self, device: str) -> str:
        """Issue a device's MQTT secret and reload the broker's files; return the secret."""
        if device in self.secrets:
            return self.secrets[device]
        out = self.ioc("migrate", "devices", "credentials", "issue", device)
        self._write_logins()
        assert self.procs["mosquitto"].poll() is None
        self.procs["mosquitto"].send_signal(1)  # SIGHUP: re-read passwd and acl
        self.secrets[device] = out.strip().splitlines()[-1].split(",")[1]
        return self.secrets[device]

    def _write_logins(self) -> None:
        self.ioc(
            "migrate",
            "devices",
            "credentials",
            "write",
            "--passwd",
            str(self.mosq_dir / "passwd"),
            "--acl",
            str(self.mosq_dir / "acl"),
        )

    def _mosquitto(self) -> None:
        command = SERVICES["mosquitto"]["command"]
        conf = mounted("mosquitto", command[command.index("-c") + 1])
        paths = {
            "/mosquitto/ioc/": f"{self.mosq_dir}/",
            "/mosquitto/certs/": f"{self.certs}/",
            "/mosquitto/data/": f"{self.dir}/mosquitto-data/",
        }
        listeners = {
            "8883": f"{self.mqtt_tls_port} 127.0.0.1",
            "1883": f"{self.mqtt_port} {INSIDE}",
        }
        (self.dir / "mosquitto-data").mkdir()
        lines = []
        for raw in conf.read_text().splitlines():
            words = raw.split()
            if not words or raw.startswith("#"):
                continue
            if words[0] == "listener":
                raw = f"listener {listeners[words[1]]}"
            for inside, here in paths.items():
                raw = raw.replace(inside, here)
            lines.append(raw)
        self._write_logins()
        (self.dir / "mosquitto.conf").write_text("\n".join(["user root", *lines]) + "\n")
        log = (self.dir / "mosquitto.log").open("wb")
        self.procs["mosquitto"] = subprocess.Popen(
            ["mosquitto", "-c", str(self.dir / "mosquitto.conf")], stdout=log, stderr=log
        )
        wait_until(lambda: _listening(INSIDE, self.mqtt_port), 10, message="mosquitto")

    def _nginx(self) -> None:
        volumes = [v for v in SERVICES["proxy"]["volumes"] if "/templates/" in v]
        template = mounted("proxy", volumes[0].split(":")[1])
        env = {k: str(v) for k, v in SERVICES["proxy"]["environment"].items()}
        env |= {
            "PROXY_HTTP_PORT": f"127.0.0.1:{self.http_port}",
            "PROXY_HTTPS_PORT": f"127.0.0.1:{self.https_port}",
            "PROXY_CERT_DIR": str(self.certs),
            "PROXY_API_UPSTREAM": f"127.0.0.1:{self.api_port}",
            "PROXY_GRAFANA_UPSTREAM": f"127.0.0.1:{free_port()}",  # no Grafana binary here
        }
        # The nginx image's envsubst, limited to NGINX_ENVSUBST_FILTER's variables.
        only = re.compile(env["NGINX_ENVSUBST_FILTER"])
        server = re.sub(
            r"\$\{(\w+)\}",
            lambda m: env[m.group(1)] if only.match(m.group(1)) else m.group(0),
            template.read_text(),
        )
        (self.dir / "ioc.conf").write_text(server)
        (self.dir / "nginx").mkdir()
        main = (
            f"pid {self.dir}/nginx.pid;\nerror_log {self.dir}/nginx-error.log;\n"
            "user root;\nworker_processes 1;\nevents { worker_connections 256; }\n"
            f"http {{\n  access_log {self.dir}/nginx-access.log;\n"
            f"  client_body_temp_path {self.dir}/nginx/body;\n"
            f"  proxy_temp_path {self.dir}/nginx/proxy;\n"
            f"  fastcgi_temp_path {self.dir}/nginx/f;\n  uwsgi_temp_path {self.dir}/nginx/u;\n"
            f"  scgi_temp_path {self.dir}/nginx/s;\n"
            f"  include /etc/nginx/mime.types;\n  include {self.dir}/ioc.conf;\n}}\n"
        )
        (self.dir / "nginx.conf").write_text(main)
        log = (self.dir / "nginx.log").open("wb")
        self.procs["proxy"] = subprocess.Popen(
            [NGINX, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"), "-g", "daemon off;"],
            stdout=log,
            stderr=log,
        )

    def _proxy_up(self) -> bool:
        for name, proc in self.procs.items():
            assert proc.poll() is None, f"{name} exited: {self.log(name)[-3000:]}"
        try:
            return self.client().get("/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def client(self) -> httpx.Client:
        """An https client of the proxy that trusts only the deployment's CA."""
        return httpx.Client(
            base_url=self.dotenv["IOC_PUBLIC_URL"],
            verify=ssl.create_default_context(cafile=self.certs / "ca.crt"),
            timeout=30,
        )

    def close(self) -> None:
        """Stop every process, then the cluster; delete the directory."""
        for name in list(self.procs):
            with contextlib.suppress(Exception):
                self.stop_service(name)
        self.pg.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _listening(host: str, port: int) -> bool:
    import socket

    with contextlib.suppress(OSError), socket.create_connection((host, port), 1):
        return True
    return False
