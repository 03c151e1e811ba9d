"""Each carved-out piece of the core has one home in the product code: the writer of
``alert_history`` and ``audit_log`` (ioc/ops/history.py), the MQTT client set-up
(ioc/mqttclient.py), the YAML loader (ioc/yamlfile.py) and ``free_port`` (ioc/ports.py); and
two HTTP servers, both serving ASGI apps: uvicorn (API, console) and ioc/boundedhttp.py (the
collector's receiver, the chat webhooks)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FOLDERS = (
    "ioc",
    "collector",
    "devices",
    "ingest",
    "alerts",
    "api",
    "simulators",
    "storage",
    "demo",
    "bench",
)
HOMES = {
    r"INSERT INTO alert_history": "ioc/ops/history.py",
    r"INSERT INTO audit_log": "ioc/ops/history.py",
    r"\.username_pw_set\(": "ioc/mqttclient.py",
    r"\.tls_set\(": "ioc/mqttclient.py",
    r"yaml\.compose\(": "ioc/yamlfile.py",
    r"def _?free_port\(": "ioc/ports.py",
}


def _sources() -> list[Path]:
    return [p for folder in FOLDERS for p in sorted((REPO / folder).rglob("*.py"))]


@pytest.mark.parametrize("pattern", sorted(HOMES))
def test_written_in_one_module(pattern: str) -> None:
    found = {
        p.relative_to(REPO).as_posix()
        for p in _sources()
        if re.search(pattern, p.read_text(encoding="utf-8"))
    }
    assert found == {HOMES[pattern]}


# Vendor fakes the demo and tests run (not servers of the product): they may use http.server.
FAKES = {"simulators/vendors/httpfake.py", "demo/edge_parts.py"}
SERVERS = {
    # the listeners facing devices or the internet: collector receiver, chat webhooks
    r"asyncio\.start_server\(|\bhttp\.server\b|\bsocketserver\b": {"ioc/boundedhttp.py"},
    # the API and the console (behind the TLS reverse proxy)
    r"\buvicorn\.(Server|run)\(": {"api/cli.py", "demo/runner.py"},
}


@pytest.mark.parametrize("pattern", sorted(SERVERS))
def test_two_http_servers_both_asgi(pattern: str) -> None:
    found = {
        rel
        for p in _sources()
        if (rel := p.relative_to(REPO).as_posix()) not in FAKES and not rel.startswith("bench/")
        if re.search(pattern, p.read_text(encoding="utf-8"))
    }
    assert found == SERVERS[pattern]
