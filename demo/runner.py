"""Everything in one process: services, migrations, demo commune, ingest, alerts, API, fleet."""

from __future__ import annotations

import logging
import os
import shlex
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from demo.infra import EmbeddedBroker, EmbeddedPostgres, broker_reachable, postgres_reachable
from demo.isolation import clear_status, refuse_if_busy, run_id
from ioc.mqttclient import MqttTarget
from ioc.settings import Settings

if TYPE_CHECKING:
    from alerts.notify.settings import NotifySetup
    from alerts.settings import AlertSettings
    from api.settings import ApiSetup
    from ingest.settings import IngestSettings
    from storage.settings import StorageSetup

log = logging.getLogger(__name__)
DEMO_REGISTRY = Path(__file__).resolve().parents[1] / "devices" / "data" / "demo_commune.yaml"
DEMO_USER = "demo-operator"
DEMO_TECHNICIAN = "demo-kythuat"  # logs in to the console (and may act on alerts)
# How long the demo listens for devices of its commune already on a shared broker.
PROBE_S = 2.0
# Faults scheduled so that something visible happens in the first minutes (simulated seconds).
DEMO_FAULTS = (
    (20.0, "video_loss", "ts-cam-03", 240.0),
    (45.0, "uplink_cut", "ts-phuoc-loc-sw", 180.0),
    (90.0, "amp_fault", "ts-an-tho-spk1", 300.0),
)


@dataclass
class Endpoints:
    """Where the running demo can be reached."""

    database_url: str
    mqtt_url: str
    api_url: str
    token: str
    embedded_db: bool
    embedded_broker: bool
    console_password: str = ""


def choose_services(stack: ExitStack, settings: Settings, say: Any) -> tuple[str, str, bool, bool]:
    """The configured PostgreSQL and broker when reachable, embedded ones otherwise."""
    db_url, embedded_db = settings.database_url, False
    if postgres_reachable(db_url):
        say(f"PostgreSQL: using the configured server ({_safe(db_url)})")
    else:
        say(f"PostgreSQL: {_safe(db_url)} is not reachable; starting an embedded one")
        pg = EmbeddedPostgres()
        stack.callback(pg.close)
        db_url, embedded_db = pg.url("ioc"), True
    mqtt_url, embedded_broker = settings.mqtt_url, False
    if broker_reachable(mqtt_url):
        say(f"MQTT: using the configured broker ({mqtt_url})")
    else:
        say(f"MQTT: {mqtt_url} is not reachable; starting an in-process broker (amqtt)")
        broker = EmbeddedBroker()
        stack.callback(broker.close)
        mqtt_url, embedded_broker = broker.url, True
    return db_url, mqtt_url, embedded_db, embedded_broker


def _safe(url: str) -> str:
    from ioc.settings import redact_url

    return redact_url(url)


def prepare_demo(settings: Settings) -> str:
    """Prepare the database, import the demo commune and return a fresh operator token."""
    from api import security
    from devices.database import prepare_for
    from devices.registry import load_file
    from devices.store import import_registry
    from ioc.db import connect

    prepare_for(settings)
    with connect(settings.database_url) as conn:
        import_registry(conn, load_file(DEMO_REGISTRY), str(DEMO_REGISTRY))
        conn.commit()
        try:
            token, _ = security.create_user(conn, DEMO_USER, "operator", [], None)
        except security.UserError:
            token, _ = security.rotate_token(conn, DEMO_USER, None)
        conn.commit()
    return token


def console_login(db_url: str) -> str:
    """A technician with a fresh random console password (printed in the banner)."""
    import contextlib
    import secrets

    from api import security
    from api.passwords import set_password
    from ioc.db import connect

    password = secrets.token_urlsafe(9)
    with connect(db_url) as conn:
        # Kept from an earlier run: only the password changes.
        with contextlib.suppress(security.UserError):
            security.create_user(conn, DEMO_TECHNICIAN, "technician", [], None)
        set_password(conn, DEMO_TECHNICIAN, password)
        conn.commit()
    return password


def run(stop: threading.Event, say: Any, api_port: int) -> None:
    """Run the whole product until ``stop`` is set."""
    with ExitStack() as stack:
        from alerts.notify.channels.smtp_settings import SmtpSettings
        from alerts.notify.settings import NotifySettings, NotifySetup
        from alerts.settings import AlertSettings
        from alerts.telegram.settings import TelegramSettings
        from alerts.zalo.settings import ZaloSettings
        from api.console.settings import ConsoleSettings
        from api.settings import ApiSettings, ApiSetup
        from ingest.settings import IngestSettings
        from storage.jobs import resolve
        from storage.settings import (
            AvailabilitySettings,
            ReportSettings,
            RetentionSettings,
            RollupSettings,
            StorageSetup,
        )

        base = Settings()
        db_url, mqtt_url, embedded_db, embedded_broker = choose_services(stack, base, say)
        # Every component gets the chosen services through the settings built here.
        chosen: dict[str, Any] = {"database_url": db_url, "mqtt_url": mqtt_url}
        if embedded_broker:
            chosen["mqtt_protocol"] = "3.1.1"  # amqtt speaks MQTT 3.1.1 only
        settings = base.model_copy(update=chosen)
        if not embedded_broker:
            # A shared broker: never fight another demo or a drill over the same device ids.
            say("MQTT: checking that no other demo or drill publishes the demo commune there")
            refuse_if_busy(MqttTarget(mqtt_url, settings.mqtt_protocol), mqtt_url, PROBE_S)
        run = run_id()
        api = ApiSettings()
        if "IOC_API_PORT" not in os.environ:
            api = api.model_copy(update={"port": api_port})
        console = ConsoleSettings()
        if "IOC_CONSOLE_COOKIE_SECURE" not in os.environ:
            # The demo serves plain http on loopback: a Secure cookie would never come back.
            console = console.model_copy(update={"cookie_secure": False})
        notify = NotifySettings()
        if "IOC_PUBLIC_URL" not in os.environ:
            notify = notify.model_copy(update={"public_url": f"http://127.0.0.1:{api.port}"})
        say("database: applying migrations and importing the demo commune (Xã Tịnh Sơn)")
        token = prepare_demo(settings)
        password = console_login(db_url)
        from demo.edge import running_edge  # the collector-watched part

        stack.enter_context(
            running_edge(
                db_url,
                mqtt_url,
                say,
                protocol=settings.mqtt_protocol,
                client_prefix=f"demo-{run}-collector-",
            )
        )
        # Its own group and instance, and a session that ends with the connection: the demo
        # never joins a production ingest group nor leaves a queue behind on the broker.
        ingest = IngestSettings(instance=f"demo-{run}", group=f"ioc-demo-{run}", session_expiry_s=0)
        stack.enter_context(_ingest(settings, ingest))
        setup = NotifySetup(notify, SmtpSettings(), TelegramSettings(), ZaloSettings())
        stack.enter_context(_alerts(settings, AlertSettings(), setup))
        web = ApiSetup(settings, api, console)
        storage = StorageSetup(
            RetentionSettings(), RollupSettings(), AvailabilitySettings(), ReportSettings()
        )
        api_url = stack.enter_context(_api(web, resolve(settings, storage)))
        stack.enter_context(_fleet(settings, run))
        say(
            banner(
                Endpoints(db_url, mqtt_url, api_url, token, embedded_db, embedded_broker, password)
            )
        )
        while not stop.wait(0.5):
            pass
        say("stopping…")


class _Running:
    """Adapter giving start/stop services the context-manager protocol."""

    def __init__(self, start: Any, stop: Any) -> None:
        self._start, self._stop = start, stop

    def __enter__(self) -> Any:
        return self._start()

    def __exit__(self, *exc: object) -> None:
        self._stop()


def _ingest(settings: Settings, ingest: IngestSettings) -> _Running:
    from ingest.service import IngestService

    service = IngestService(settings, ingest)

    def stop() -> None:
        service.stop()
        clear_status(MqttTarget(settings.mqtt_url, settings.mqtt_protocol), ingest.instance)

    return _Running(service.start, stop)


def _alerts(settings: Settings, alerts: AlertSettings, notify: NotifySetup) -> _Running:
    from alerts.engine import AlertEngine
    from ioc.db import open_pool

    pool = open_pool(settings.database_url, max_size=4, name="demo-alerts")
    engine = AlertEngine(alerts, pool, notify=notify, mqtt_url=settings.mqtt_url)

    def stop() -> None:
        engine.stop()
        pool.close()

    return _Running(engine.start, stop)


def _api(settings: ApiSetup, storage: StorageSetup) -> _Running:
    import uvicorn

    from api.app import create_app
    from api.cli import server_options

    config = uvicorn.Config(create_app(settings, storage), host=settings.api.host, port=settings.api.port,
                            log_level="warning", **server_options(settings))  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="demo-api", daemon=True)

    def start() -> str:
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the API did not start (is the port free? set IOC_API_PORT)")
            time.sleep(0.05)
        return f"http://{settings.api.host}:{settings.api.port}"

    def stop() -> None:
        server.should_exit = True
        thread.join(10)

    return _Running(start, stop)


def _fleet(settings: Settings, run: str) -> _Running:
    from devices.registry import load_file
    from simulators.clock import SimClock
    from simulators.fleet import Fleet
    from simulators.world import World

    clock = SimClock.ending_now(1.0, None)
    world = World(load_file(DEMO_REGISTRY), 1, clock.start, fault_rate=0.0)
    for at, fault, device, duration in DEMO_FAULTS:
        world.inject(fault, device, duration, clock.start + at, None, source="demo")
    target = MqttTarget(settings.mqtt_url, settings.mqtt_protocol)
    fleet = Fleet(world, clock, target, "device", client_prefix=f"demo-{run}-")
    stop = threading.Event()
    thread = threading.Thread(target=fleet.run, kwargs={"stop": stop}, name="demo-fleet",
                              daemon=True)  # fmt: skip

    def start() -> None:
        thread.start()

    def halt() -> None:
        stop.set()
        thread.join(10)
        fleet.close(will=False)

    return _Running(start, halt)


def banner(e: Endpoints) -> str:
    """What to look at, printed once everything runs."""
    grafana = (
        "Grafana: the embedded PostgreSQL listens on a Unix socket only; for Grafana run a "
        "local PostgreSQL and set IOC_DATABASE_URL (see README, 'Grafana')."
        if e.embedded_db
        else f"Grafana: add a PostgreSQL data source with uid ioc-postgres for "
        f"{_safe(e.database_url)} (user ioc_grafana after `ioc migrate --roles`), then import "
        "grafana/dashboards/*.json."
    )
    return "\n".join(
        [
            "",
            "=== Commune IOC demo is running (Ctrl-C to stop) ===",
            f"Console:         {e.api_url}/console/  (user {DEMO_TECHNICIAN}, password "
            f"{e.console_password})",
            f"API docs:        {e.api_url}/docs",
            f"Operator token:  {e.token}",
            f"Try:             curl -H 'Authorization: Bearer {e.token}' "
            f"'{e.api_url}/api/v1/devices?limit=5'",
            f"                 curl -H 'Authorization: Bearer {e.token}' "
            f"'{e.api_url}/api/v1/alerts?state=firing'",
            f"Database:        {_safe(e.database_url)}" + (" (embedded)" if e.embedded_db else ""),
            f"SQL:             psql {shlex.quote(_safe(e.database_url))}",
            f"MQTT broker:     {e.mqtt_url}" + (" (in-process amqtt)" if e.embedded_broker else ""),
            grafana,
            "Faults scheduled: video loss on ts-cam-03 (+20 s), hamlet switch ts-phuoc-loc-sw cut "
            "(+45 s), camera video loss on NVR ts-edge-hik-nvr-1 (+60 s), amplifier fault on "
            "ts-an-tho-spk1 (+90 s), collector ts-collector cut off (+120 s), NVR disk failure "
            "(+150 s). Alerts print below as sent.",
            "",
        ]
    )
