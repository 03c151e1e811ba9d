"""API fixtures: a seeded two-commune database, users of every role, and a test client."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from psycopg.types.json import Jsonb

from api import security
from api.app import create_app
from api.cli import server_options
from api.console.settings import ConsoleSettings
from api.settings import ApiSettings, ApiSetup
from devices.registry import parse_yaml
from devices.store import import_registry
from ioc.ports import free_port
from ioc.settings import Settings
from storage.jobs import resolve
from tests.storage.conftest import storage_setup
from tests.util import wait_until

A, B = "21025", "21026"
SEED = f"""
communes:
  - code: "{A}"
    name: "Xã Tịnh Sơn"
    province: "Quảng Ngãi"
    sites:
      - {{id: a-ubnd, name: "UBND xã Tịnh Sơn", lat: 15.118, lon: 108.742}}
  - code: "{B}"
    name: "Xã Tịnh Hà"
    province: "Quảng Ngãi"
    sites:
      - {{id: b-ubnd, name: "UBND xã Tịnh Hà"}}
devices:
  - {{id: a-uplink, type: link, commune: "{A}", site: a-ubnd, name: "Cáp quang UBND"}}
  - {{id: a-cam-1, type: camera, commune: "{A}", site: a-ubnd, parent: a-uplink, name: "Camera Cổng UBND"}}
  - {{id: a-cam-2, type: camera, commune: "{A}", site: a-ubnd, parent: a-uplink, name: "Camera Sân"}}
  - {{id: a-spk-1, type: speaker, commune: "{A}", site: a-ubnd, name: "Cụm loa chợ"}}
  - {{id: b-uplink, type: link, commune: "{B}", site: b-ubnd, name: "Cáp quang Tịnh Hà"}}
  - {{id: b-cam-1, type: camera, commune: "{B}", site: b-ubnd, parent: b-uplink, name: "Camera Tịnh Hà"}}
"""
ALERT = """
INSERT INTO alerts (fingerprint, rule, kind, severity, state, device_id, commune_code, site_id,
                    device_type, summary, started_at, fired_at, suppressed_by, labels)
VALUES (%(fp)s, %(rule)s, 'absence', %(severity)s, %(state)s, %(device)s, %(commune)s,
        %(site)s, %(type)s, %(summary)s, %(started)s, %(started)s, %(suppressed_by)s, %(labels)s)
RETURNING id
"""


@dataclass
class World:
    """Ids of the seeded objects."""

    alerts: dict[str, int]
    now: datetime


def seed(conn: psycopg.Connection) -> World:
    """Two communes with devices, reachability, telemetry, events and alerts."""
    registry = parse_yaml(SEED, "seed")
    assert not registry.errors, registry.errors
    import_registry(conn, registry, "seed")
    now = datetime.now(UTC).replace(microsecond=0)
    states = {"a-uplink": "offline", "a-cam-1": "unreachable", "a-cam-2": "unreachable"}
    for device in ("a-uplink", "a-cam-1", "a-cam-2", "a-spk-1", "b-uplink", "b-cam-1"):
        state = states.get(device, "online")
        conn.execute(
            "INSERT INTO device_reachability (device_id, state, since, root_cause_id) "
            "VALUES (%s, %s, %s, %s)",
            (
                device,
                state,
                now - timedelta(hours=1),
                "a-uplink" if state == "unreachable" else None,
            ),
        )
        conn.execute(
            "INSERT INTO device_reachability_changes (time, device_id, state) VALUES (%s, %s, %s)",
            (now - timedelta(hours=1), device, state),
        )
        conn.execute(
            "INSERT INTO device_status (device_id, online, last_seen) VALUES (%s, %s, %s)",
            (device, state == "online", now - timedelta(minutes=5)),
        )
    for device in ("a-cam-1", "b-cam-1"):
        conn.execute(
            "INSERT INTO telemetry_points (time, value, device_key, metric_id) "
            "SELECT %(now)s - make_interval(mins => g), 20 + g %% 5, d.key, m.id "
            "FROM generate_series(1, 180) g, devices d, metrics m "
            "WHERE d.id = %(id)s AND m.name = 'fps'",
            {"now": now, "id": device},
        )
        conn.execute(
            "INSERT INTO device_latest_points (device_key, metric_id, time, value) "
            "SELECT d.key, m.id, %s, 24 FROM devices d, metrics m WHERE d.id = %s AND m.name = 'fps'",
            (now - timedelta(minutes=1), device),
        )
        conn.execute(
            "INSERT INTO device_events (time, device_id, seq, type, severity, data) "
            "VALUES (%s, %s, 1, 'tamper', 'critical', %s)",
            (now - timedelta(minutes=30), device, Jsonb({"note": "che khuất ống kính"})),
        )
    alerts: dict[str, int] = {}
    specs: list[dict[str, Any]] = [
        {"key": "a_root", "device": "a-uplink", "commune": A, "severity": "critical"},
        {
            "key": "a_child",
            "device": "a-cam-1",
            "commune": A,
            "severity": "critical",
            "sup": "a_root",
        },
        {"key": "a_warn", "device": "a-spk-1", "commune": A, "severity": "warning"},
        {"key": "b_root", "device": "b-cam-1", "commune": B, "severity": "critical"},
    ]
    for spec in specs:
        row = conn.execute(
            ALERT,
            {
                "fp": spec["key"],
                "rule": "device_absent",
                "severity": spec["severity"],
                "state": "firing",
                "device": spec["device"],
                "commune": spec["commune"],
                "site": "a-ubnd" if spec["commune"] == A else "b-ubnd",
                "type": "camera",
                "summary": "Thiết bị mất kết nối",
                "started": now - timedelta(minutes=50),
                "suppressed_by": alerts.get(spec.get("sup", "")),
                "labels": Jsonb({"commune": spec["commune"], "device": spec["device"]}),
            },
        ).fetchone()
        assert row is not None
        alerts[spec["key"]] = row[0]
        conn.execute(
            "INSERT INTO alert_history (alert_id, action, note) VALUES (%s, 'firing', 'bắt đầu')",
            (row[0],),
        )
    return World(alerts=alerts, now=now)


USERS = {
    "admin": ("admin", []),
    "operator": ("operator", []),
    "tech": ("technician", []),
    "tech_a": ("technician", [A]),
    "op_a": ("operator", [A]),
    "admin_a": ("admin", [A]),
}


@pytest.fixture
def world(db: psycopg.Connection) -> World:
    """The seeded database."""
    return seed(db)


@pytest.fixture
def tokens(db: psycopg.Connection) -> dict[str, str]:
    """A token per test user (see ``USERS``)."""
    return {
        name: security.create_user(db, name, role, communes, 30)[0]
        for name, (role, communes) in USERS.items()
    }


@pytest.fixture
def make_settings(db_url: str, mqtt_url: str) -> Callable[..., ApiSetup]:
    """Settings for this test's database and broker, with overrides (see ``api_setup``)."""

    def make(**overrides: Any) -> ApiSetup:
        values: dict[str, Any] = {"database_url": db_url, "mqtt_url": mqtt_url, "db_pool_size": 4}
        return api_setup(**{**values, **overrides})

    return make


def api_setup(
    *, api: dict[str, Any] | None = None, console: dict[str, Any] | None = None, **core: Any
) -> ApiSetup:
    """The API's settings: ``core`` fields of Settings, ``api`` of ApiSettings (a generous rate
    limit unless given) and ``console`` of ConsoleSettings."""
    for cls, given in ((Settings, core), (ApiSettings, api), (ConsoleSettings, console)):
        unknown = set(given or {}) - set(cls.model_fields)
        assert not unknown, f"{cls.__name__} has no {sorted(unknown)}"  # else silently ignored
    return ApiSetup(
        Settings(**core),
        ApiSettings(**{"rate_limit": "100000/minute", **(api or {})}),
        ConsoleSettings(**(console or {})),
    )


class LiveServer:
    """The app served by a real uvicorn in a thread on a free loopback port."""

    def __init__(self, settings: ApiSetup) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings, resolve(settings.core, storage_setup())),
            host="127.0.0.1",
            port=self.port,
            lifespan="on",
            **server_options(settings),  # as `ioc api` runs it (trusted proxies included)
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        wait_until(
            lambda: self.server.started or not self.thread.is_alive(), 20, message="uvicorn start"
        )
        assert self.server.started, "the API did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def serve(make_settings: Callable[..., ApiSetup]) -> Iterator[Callable[..., httpx.Client]]:
    """Start the API with settings overrides; return an httpx client bound to it."""
    stack = contextlib.ExitStack()

    def start(**overrides: Any) -> httpx.Client:
        server = stack.enter_context(LiveServer(make_settings(**overrides)))
        return stack.enter_context(httpx.Client(base_url=server.url, timeout=30))

    with stack:
        yield start


@pytest.fixture
def client(serve: Callable[..., httpx.Client]) -> httpx.Client:
    """A client of the API started with the test settings."""
    return serve()


@pytest.fixture
def as_user(tokens: dict[str, str]) -> Callable[[str], dict[str, str]]:
    """Authorization headers of a named test user."""
    return lambda name: {"Authorization": f"Bearer {tokens[name]}"}
