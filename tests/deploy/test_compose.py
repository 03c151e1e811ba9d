"""docker-compose.yml and the Dockerfile agree with the product (no Docker engine needed).

Every service runs a real `ioc` subcommand with options that parse, sets only IOC_* variables
some settings class reads, mounts paths that exist, reaches the right ports, has a health
check, and depends on services that exist.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

import click
import pytest
import yaml
from pydantic_settings import BaseSettings

from ioc.cli import LAZY_COMMANDS, cli
from ioc.settings import env_name

REPO = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
APP = {name for name, s in SERVICES.items() if s.get("image", "").startswith("commune-ioc")}
ENV_EXAMPLE = dict(
    line.split("=", 1)
    for line in (REPO / ".env.example").read_text().splitlines()
    if line and not line.startswith("#")
)
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PACKAGES = [p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]]


def _settings_env_names() -> set[str]:
    """Environment variable names read by every BaseSettings subclass of the packages."""
    for package in PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            if info.name.endswith("__main__"):
                continue  # runs the command line when imported
            try:
                importlib.import_module(info.name)
            except Exception:  # an optional extra missing: its settings stay unknown
                continue
    names: set[str] = set()
    stack: list[type[BaseSettings]] = [BaseSettings]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] not in PACKAGES:
            continue
        names.update(env_name(cls, field_name) for field_name in cls.model_fields)
    return names


def _url(value: str) -> SplitResult:
    """A URL of the compose file as it is by default: ${VAR:-default} interpolations become
    their default (the HA profile's DB_HOSTS), the other ${...} a placeholder."""
    value = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)
    return urlsplit(re.sub(r"\$\{[^}]*\}", "x", value))


def mounted(service: str, container_path: str) -> Path:
    """The repo path a service sees at ``container_path`` through its bind mounts."""
    from tests.deploy.stack import mounted as resolve

    return resolve(service, container_path)


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def test_the_whole_product_is_there() -> None:
    expected = {
        "timescaledb", "mosquitto", "grafana", "migrate", "ingest-1", "ingest-2",
        "alerts-1", "alerts-2", "api", "maintain", "simulator", "proxy", "backup",
        "etcd", "patroni-1", "patroni-2",
        "nats-1", "nats-2", "nats-3", "ingest-bus-1", "ingest-bus-2",
    }  # fmt: skip
    assert set(SERVICES) == expected
    cluster = {"nats-1", "nats-2", "nats-3", "ingest-bus-1", "ingest-bus-2"}
    assert all(SERVICES[s]["profiles"] == ["cluster"] for s in cluster)
    assert {"migrate", "ingest-1", "alerts-1", "api", "maintain", "simulator"} <= APP
    assert SERVICES["simulator"]["profiles"] == ["simulator"]
    for name in ("etcd", "patroni-1", "patroni-2"):  # docs/ha.md
        assert SERVICES[name]["profiles"] == ["ha"], name
    image = SERVICES["timescaledb"]["image"]
    assert image.startswith("timescale/timescaledb:")
    assert int(re.search(r"pg(\d+)", image).group(1)) >= 16  # type: ignore[union-attr]
    # The release CI's TimescaleDB pass runs (.ci/run, ../shared/timescaledb): same SQL surface.
    assert image.split(":")[1].startswith("2.28.3-")


@pytest.mark.parametrize("name", sorted(APP))
def test_app_commands_are_real_ioc_subcommands(name: str) -> None:
    args = _command(SERVICES[name])
    assert args and args[0] in LAZY_COMMANDS, f"{name}: {args}"
    with click.Context(cli) as ctx:
        command = cli.get_command(ctx, args[0])
    assert command is not None
    assert "unavailable" not in (command.help or ""), f"{name}: {command.help}"
    command.make_context(args[0], args[1:])  # raises click.UsageError on a bad option


def test_the_backup_service_runs_ioc_backup_with_known_settings() -> None:
    backup = SERVICES["backup"]
    loop = _command(backup)[-1]
    for run in re.findall(r"ioc (backup \w+)", loop):
        group, sub = run.split()
        with click.Context(cli) as ctx:
            command = cli.get_command(ctx, group)
        assert isinstance(command, click.Group) and sub in command.commands, run
    known = _settings_env_names()
    assert all(v in known for v in backup["environment"]), backup["environment"]
    archive = [c for c in _command(SERVICES["timescaledb"]) if c.startswith("archive_command=")]
    wal = backup["environment"]["IOC_BACKUP_DIR"] + "/wal/"
    assert archive and archive[0].count(wal) == 2  # the server archives where backup reads
    assert "backup:/backup" in SERVICES["timescaledb"]["volumes"]


def test_every_ioc_variable_is_a_setting() -> None:
    known = _settings_env_names()
    assert "IOC_DATABASE_URL" in known and "IOC_INGEST_INSTANCE" in known
    for name in APP:
        for variable in SERVICES[name]["environment"]:
            if variable.startswith("IOC_"):
                assert variable in known, f"{name}: {variable} is read by no settings class"
    grafana_env = SERVICES["grafana"]["environment"]
    assert "IOC_GRAFANA_DB_PASSWORD" in grafana_env and "IOC_GRAFANA_DB_PASSWORD" in known


def test_interpolated_variables_are_documented_without_secrets() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    for variable, default in re.findall(r"\$\{(\w+)(:?[-?][^}]*)?\}", text):
        assert variable in ENV_EXAMPLE or default.startswith((":-", "-")), variable
    for variable, value in ENV_EXAMPLE.items():
        if "PASSWORD" in variable:
            assert value == "change-me", f"{variable}: placeholder only"
    for name, service in SERVICES.items():
        for variable, value in (service.get("environment") or {}).items():
            if "PASSWORD" in variable or variable.endswith("_URL"):
                text = str(value)
                password = urlsplit(text).password if "://" in text else text
                if "://" in text and "@" in text:
                    password = text.split("://", 1)[1].split("@", 1)[0].partition(":")[2]
                assert not password or password.startswith("${"), (name, variable)


def test_urls_and_ports_are_consistent() -> None:
    db = SERVICES["timescaledb"]["environment"]
    listener = re.search(r"^listener (\d+)", (REPO / "mosquitto/mosquitto.conf").read_text(), re.M)
    assert listener is not None
    for name in APP:
        env = SERVICES[name]["environment"]
        database = _url(env["IOC_DATABASE_URL"])
        assert (database.hostname, database.port) == ("timescaledb", 5432), name
        assert database.path == f"/{db['POSTGRES_DB']}", name
        mqtt = _url(env["IOC_MQTT_URL"])
        if env.get("IOC_BUS") == "nats":  # the cluster profile: the bus's nodes
            nodes = [_url(u) for u in env["IOC_MQTT_URLS"].split(",")]
            assert [(u.hostname, u.port) for u in nodes] == [
                (f"nats-{i}", 1883) for i in (1, 2, 3)
            ], name
            assert (mqtt.hostname, mqtt.port) == ("nats-1", 1883), name
            continue
        assert (mqtt.hostname, mqtt.port) == ("mosquitto", int(listener.group(1))), name
    users = {_url(SERVICES[n]["environment"]["IOC_DATABASE_URL"]).username for n in APP}
    assert {"ioc_ingest", "ioc_app", "ioc_owner"} <= users
    # Nothing runs as the superuser; it only appears as migrate's bootstrap URL.
    assert "postgres" not in users
    admin = _url(SERVICES["migrate"]["environment"]["IOC_MIGRATE_ADMIN_URL"])
    assert (admin.username, admin.hostname, admin.path) == ("postgres", "timescaledb", "/postgres")
    assert _url(SERVICES["ingest-1"]["environment"]["IOC_DATABASE_URL"]).username == "ioc_ingest"
    api = SERVICES["api"]
    assert api["expose"] == [api["environment"]["IOC_API_PORT"]] and "ports" not in api
    assert api["environment"]["IOC_API_HOST"] == "0.0.0.0"
    proxy = SERVICES["proxy"]["environment"]
    assert proxy["PROXY_API_UPSTREAM"] == f"api:{api['environment']['IOC_API_PORT']}"
    assert proxy["PROXY_GRAFANA_UPSTREAM"] == f"grafana:{SERVICES['grafana']['expose'][0]}"
    assert "ports" not in SERVICES["grafana"]
    source = yaml.safe_load((REPO / "grafana/provisioning/datasources/ioc.yaml").read_text())
    ds = source["datasources"][0]
    assert ds["url"] == "timescaledb:5432" and ds["jsonData"]["database"] == db["POSTGRES_DB"]
    assert ds["user"] == "ioc_grafana"


def test_ingest_replicas_share_one_subscription_with_stable_names() -> None:
    envs = [SERVICES[n]["environment"] for n in ("ingest-1", "ingest-2")]
    assert envs[0]["IOC_INGEST_INSTANCE"] != envs[1]["IOC_INGEST_INSTANCE"]
    assert envs[0].get("IOC_INGEST_GROUP") == envs[1].get("IOC_INGEST_GROUP")
    assert _command(SERVICES["alerts-1"]) == _command(SERVICES["alerts-2"]) == ["alerts"]


def test_mounted_paths_exist_and_named_volumes_are_declared() -> None:
    provider = yaml.safe_load((REPO / "grafana/provisioning/dashboards/ioc.yaml").read_text())
    mounts = {}
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name}: {source} does not exist"
                mounts[target] = source
            else:
                assert source in COMPOSE["volumes"], f"{name}: volume {source} not declared"
    path = provider["providers"][0]["options"]["path"]
    assert mounts[path] == "./grafana/dashboards"
    assert mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(path + "/")
    assert (REPO / mounts[path] / home.removeprefix(path + "/")).is_file()


def test_mosquitto_runs_the_repo_config_with_authentication_and_tls() -> None:
    command = _command(SERVICES["mosquitto"])
    assert command[:2] == ["mosquitto", "-c"]
    conf = mounted("mosquitto", command[2]).read_text()
    directives = [line.split() for line in conf.splitlines() if line and line[0] != "#"]
    assert ["allow_anonymous", "false"] in directives
    listeners = [d[1] for d in directives if d[0] == "listener"]
    assert listeners == ["8883", "1883"]
    # The TLS files are the ones `ioc certs init --dir certs` writes, mounted read-only.
    for key in ("certfile", "keyfile", "password_file", "acl_file"):
        path = next(d[1] for d in directives if d[0] == key)
        assert mounted("mosquitto", path).parent.name in ("certs", "mosquitto"), key
    assert mounted("mosquitto", "/mosquitto/certs/server.crt") == REPO / "certs/server.crt"
    # Published on the host: TLS only. 1883 is the services' listener on the compose network.
    assert SERVICES["mosquitto"]["ports"] == ["8883:8883"]
    for name in APP:
        if SERVICES[name]["environment"].get("IOC_BUS") == "nats":
            continue  # the cluster profile's ingest reads the bus (docs/scale-out.md)
        mqtt = _url(SERVICES[name]["environment"]["IOC_MQTT_URL"])
        assert (mqtt.hostname, mqtt.port) == ("mosquitto", 1883), name


def test_the_compose_equivalent_reads_the_files_compose_mounts() -> None:
    """tests/deploy/stack.py cannot drift from docker-compose.yml: same files, same commands."""
    from tests.deploy import stack

    assert stack.SERVICES is not None and stack.COMPOSE == COMPOSE
    template = mounted("proxy", "/etc/nginx/templates/ioc.conf.template")
    assert template == REPO / "deploy/nginx/ioc.conf.template"
    assert mounted("proxy", "/etc/nginx/certs/server.crt") == REPO / "certs/server.crt"
    variables = set(re.findall(r"\$\{(\w+)\}", template.read_text()))
    env = SERVICES["proxy"]["environment"]
    assert variables <= set(env) and all(
        re.match(env["NGINX_ENVSUBST_FILTER"], v) for v in variables
    )
    assert mounted("mosquitto", "/mosquitto/ioc/compose.conf") == REPO / "mosquitto/compose.conf"
    source = inspect.getsource(stack.Stack)
    for service in ("migrate", "ingest-1", "alerts-1", "api", "mosquitto", "proxy"):
        assert f'"{service}"' in source, service
    assert 'SERVICES[service]["command"]' in source  # the compose command, not a copy
    # The link in notifications is the console through the proxy, over https.
    assert ENV_EXAMPLE["IOC_PUBLIC_URL"].startswith("https://")
    assert SERVICES["alerts-1"]["environment"]["IOC_PUBLIC_URL"].startswith("${IOC_PUBLIC_URL")
    assert SERVICES["grafana"]["environment"]["GF_SERVER_ROOT_URL"] == "${IOC_PUBLIC_URL}/grafana/"


def test_health_checks_restart_policies_and_dependencies() -> None:
    for name, service in SERVICES.items():
        if name == "migrate":
            assert service["restart"] == "no"
            continue
        if name == "proxy":
            assert service["depends_on"] == {"api": {"condition": "service_healthy"}}
        assert service.get("restart") == "unless-stopped", name
        assert service["healthcheck"]["test"], name
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], dependency
            else:
                assert (dependency, condition) == ("migrate", "service_completed_successfully")
    for name in APP - {"migrate"}:
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_dockerfile_builds_what_pyproject_needs() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    lines = [line.strip() for line in dockerfile.splitlines()]
    assert next(x for x in lines if x.startswith("FROM")) == "FROM python:3.11-slim"
    copied = {line.split()[1].rstrip("/") for line in lines if line.startswith("COPY ")}
    copied |= {w for line in lines if line.startswith("COPY ") for w in line.split()[1:-1]}
    for package in PACKAGES:
        assert package in copied and (REPO / package).is_dir(), package
    assert {"pyproject.toml", PYPROJECT["project"]["readme"]} <= copied
    # The locked dependencies with their hashes first, then the project without resolving.
    assert "RUN pip install --require-hashes -r requirements.lock" in lines
    assert any(re.match(r"RUN pip install --no-deps \.", line) for line in lines)
    assert "requirements.lock" in copied
    assert 'ENTRYPOINT ["ioc"]' in lines
    user = [line for line in lines if line.startswith("USER ")]
    assert user and user[-1] not in ("USER root", "USER 0")
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored and ".git" in ignored
