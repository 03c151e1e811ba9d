"""Nothing loads from the internet by default: templates, static files, Grafana dashboards and
provisioning, the compose file's Grafana settings and every setting's default."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tests.deploy.test_compose import SERVICES, _settings_env_names

REPO = Path(__file__).resolve().parents[2]
URL = re.compile(r"https?://[^\s\"'<>)]+")
# Outside services used only once their opt-in setting is given (unset by default).
OPT_IN = {
    "TelegramSettings.api_url": "bot_token",
    "ZaloSettings.api_url": "app_id",
    "ZaloSettings.oauth_url": "app_id",
    "ZaloSettings.zns_url": "app_id",
}
LOCAL = ("localhost", "127.0.0.1", "0.0.0.0")
# Resource loads in HTML/CSS (a plain <a href> is a link a person may follow, not a load).
LOADS = re.compile(
    r"""(?:src|srcset|data)\s*=\s*["']?(https?://[^"' >]+)|url\(\s*["']?(https?://[^)"']+)|<link[^>]+href=["'](https?://[^"']+)|@import\s+["']?(https?://[^"';]+)"""
)


def _external(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host not in LOCAL and not host.endswith((".invalid", ".example", ".test"))


def test_console_templates_and_static_files_load_nothing_from_outside() -> None:
    files = [*REPO.glob("api/console/templates/*.html"), *REPO.glob("api/console/static/**/*")]
    assert files
    for path in files:
        if path.is_file():
            found = [u for m in LOADS.findall(path.read_text(errors="replace")) for u in m if u]
            assert not [u for u in found if _external(u)], (path, found)


def test_grafana_dashboards_and_provisioning_reference_no_outside_url() -> None:
    for path in [
        *REPO.glob("grafana/dashboards/*.json"),
        *REPO.glob("grafana/provisioning/**/*.y*ml"),
    ]:
        urls = [u for u in URL.findall(path.read_text()) if _external(u)]
        assert not urls, (path, urls)
    for path in REPO.glob("grafana/dashboards/*.json"):
        for panel in json.loads(path.read_text()).get("panels", []):
            if panel.get("type") == "geomap":
                basemap = panel["options"]["basemap"]
                # "default" is Grafana's public CARTO basemap; ours is the API's MBTiles route.
                assert basemap["type"] == "xyz" and basemap["config"]["url"].startswith("/tiles/")


def test_compose_grafana_and_settings_defaults_stay_inside() -> None:
    grafana = SERVICES["grafana"]["environment"]
    for key in ("GF_ANALYTICS_REPORTING_ENABLED", "GF_ANALYTICS_CHECK_FOR_UPDATES",
                "GF_NEWS_NEWS_FEED_ENABLED", "GF_SNAPSHOTS_EXTERNAL_ENABLED",
                "GF_PLUGINS_PLUGIN_ADMIN_ENABLED", "GF_GEOMAP_ENABLE_CUSTOM_BASELAYERS"):  # fmt: skip
        assert grafana[key] == "false", key
    basemap = json.loads(grafana["GF_GEOMAP_DEFAULT_BASELAYER_CONFIG"])
    assert basemap["config"]["url"].startswith("/tiles/")
    compose = yaml.safe_dump(SERVICES)
    # A compose service's own name is an address inside the deployment.
    inside = [u for u in URL.findall(compose) if urlsplit(u).hostname not in SERVICES]
    assert not [u for u in inside if _external(u) and "${" not in u]


def test_no_setting_defaults_to_an_outside_address() -> None:
    from pydantic_settings import BaseSettings

    _settings_env_names()  # imports every package's settings module
    stack: list[type[BaseSettings]] = [BaseSettings]
    checked = 0
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] not in {"ioc", "api", "alerts", "ingest", "storage", "collector", "devices", "simulators", "demo"}:  # fmt: skip
            continue
        for name, field in cls.model_fields.items():
            default: Any = field.default
            checked += 1
            if isinstance(default, str) and URL.match(default) and _external(default):
                # Only a channel someone switches on may name an outside service.
                gate = OPT_IN.get(f"{cls.__name__}.{name}")
                assert gate and cls.model_fields[gate].default is None, f"{cls.__name__}.{name}"
    assert checked > 50
