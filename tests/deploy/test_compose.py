"""docker-compose.yml and the Dockerfile agree with the product (no Docker engine needed).

Every service runs a real `ioc` subcommand with options that parse, sets only IOC_* variables
some settings class reads, mounts paths that exist, reaches the right ports, has a health
check, and depends on services that exist.
"""

from __future__ import annotations

import importlib
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
        prefix = str(cls.model_config.get("env_prefix", ""))
        for field_name, field in cls.model_fields.items():
            names.add((prefix + field_name).upper())
            if isinstance(field.validation_alias, str):
                names.add(field.validation_alias.upper())
    return names


def _url(value: str) -> SplitResult:
    """A URL of the compose file with its ${...} interpolations replaced by a placeholder."""
    return urlsplit(re.sub(r"\$\{[^}]*\}", "x", value))


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def test_the_whole_product_is_there() -> None:
    expected = {
        "timescaledb", "mosquitto", "grafana", "migrate", "ingest-1", "ingest-2",
        "alerts-1", "alerts-2", "api", "maintain", "simulator",
        "nats-1", "nats-2", "nats-3", "ingest-bus-1", "ingest-bus-2",
    }  # fmt: skip
    assert set(SERVICES) == expected
    cluster = {"nats-1", "nats-2", "nats-3", "ingest-bus-1", "ingest-bus-2"}
    assert all(SERVICES[s]["profiles"] == ["cluster"] for s in cluster)
    assert {"migrate", "ingest-1", "alerts-1", "api", "maintain", "simulator"} <= APP
    assert SERVICES["simulator"]["profiles"] == ["simulator"]
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
    assert {"ioc_ingest", "ioc_app"} <= users
    assert _url(SERVICES["ingest-1"]["environment"]["IOC_DATABASE_URL"]).username == "ioc_ingest"
    api = SERVICES["api"]
    assert (
        f"{api['environment']['IOC_API_PORT']}:{api['environment']['IOC_API_PORT']}" in api["ports"]
    )
    assert api["environment"]["IOC_API_HOST"] == "0.0.0.0"
    assert f"{listener.group(1)}:{listener.group(1)}" in SERVICES["mosquitto"]["ports"]
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


def test_mosquitto_runs_the_repo_config_with_authentication() -> None:
    conf = (REPO / "mosquitto/mosquitto.conf").read_text().splitlines()
    script = " ".join(_command(SERVICES["mosquitto"]))
    patterns = re.findall(r"s\|\^([^|]+)\|([^|]+)\|", script)
    assert len(patterns) == 4
    for pattern, replacement in patterns:
        regex = re.compile("^" + pattern.replace(".*", ".*"))
        assert any(regex.match(line) for line in conf), (
            f"no line of mosquitto.conf matches {pattern}"
        )
        path = replacement.split()[-1]
        if path.startswith("/mosquitto/ioc/"):
            assert any(v.endswith(":/mosquitto/ioc:ro") for v in SERVICES["mosquitto"]["volumes"])
    assert "allow_anonymous false" in script and "password_file" in script and "acl_file" in script


def test_health_checks_restart_policies_and_dependencies() -> None:
    for name, service in SERVICES.items():
        if name == "migrate":
            assert service["restart"] == "no"
            continue
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
    assert any(re.match(r'RUN pip install "?\.', line) for line in lines)
    assert 'ENTRYPOINT ["ioc"]' in lines
    user = [line for line in lines if line.startswith("USER ")]
    assert user and user[-1] not in ("USER root", "USER 0")
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored and ".git" in ignored
