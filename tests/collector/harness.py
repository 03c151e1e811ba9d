"""Running ``ioc collector run`` as a real process against a test broker and database."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from collector.inventory import parse_inventory
from devices.store import import_registry
from ioc.secretfile import write_secret

COMMUNE = "21025"


def inventory_text(
    devices: int, interval_s: int = 1, collector: str = "col-1", extra: str = ""
) -> str:
    """A commune with one collector watching ``devices`` cameras on 127.0.1.x (ping)."""
    lines = [
        "communes:",
        f'  - {{code: "{COMMUNE}", name: "Xã Tịnh Sơn", sites: [{{id: ts-ubnd, name: "UBND"}}]}}',
        "devices:",
        f'  - {{id: {collector}, type: collector, commune: "{COMMUNE}", site: ts-ubnd,',
        '     name: "Bộ thu thập UBND", interval_s: 1}',
    ]
    for i in range(devices):
        lines.append(
            f'  - {{id: cam-{i:03d}, type: camera, commune: "{COMMUNE}", site: ts-ubnd, '
            f"address: 127.0.1.{i + 1}, collector: {collector}, interval_s: {interval_s},\n"
            "     checks: {ping: {count: 1, timeout_s: 0.5}}}"
        )
    return "\n".join(lines) + "\n" + extra


def import_inventory(db_url: str, text: str) -> None:
    """Put the inventory's registry part into the database (as `ioc devices import` does)."""
    with psycopg.connect(db_url) as conn:
        import_registry(conn, parse_inventory(text, "inv.yaml").registry(), "inv.yaml")


class CollectorProcess:
    """`python -m ioc collector run` with its own state directory and log file."""

    def __init__(
        self,
        tmp: Path,
        inventory: str,
        mqtt_url: str,
        secrets: dict[str, str] | None = None,
        api: str | None = None,
        **env: Any,
    ) -> None:
        """``secrets`` go to the collector's secrets file (it resolves names from there)."""
        self.dir = tmp
        self.api = api  # fetch the inventory from this API (token: IOC_COLLECTOR_TOKEN)
        self.inventory = tmp / "inventory.yaml"
        self.inventory.write_text(inventory, encoding="utf-8")
        self.state = tmp / "state"
        self.log = tmp / "collector.log"
        self.env = {
            **os.environ,
            "IOC_MQTT_URL": mqtt_url,
            "IOC_COLLECTOR_HEARTBEAT_S": "1",
            "IOC_LOG_LEVEL": "INFO",
            **{k.upper(): str(v) for k, v in env.items()},
        }
        if secrets:
            path = tmp / "secrets.env"
            write_secret(path, "".join(f"{k}={v}\n" for k, v in secrets.items()))
            self.env["IOC_COLLECTOR_SECRETS_FILE"] = str(path)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> CollectorProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ioc",
                    "collector",
                    "run",
                    *(["--api", self.api] if self.api else ["--inventory", str(self.inventory)]),
                    "--state-dir",
                    str(self.state),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        return self

    def stop(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.proc.wait(timeout=15)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def outbox(self, query: str) -> int:
        """A number from the collector's SQLite outbox (read while it runs, WAL allows it)."""
        path = self.state / "col-1.outbox.sqlite"
        if not path.exists():
            return 0
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            try:
                row = db.execute(query).fetchone()
            except sqlite3.OperationalError as exc:
                # The file exists a moment before the collector has created its tables.
                if "no such table" in str(exc):
                    return 0
                raise
        return int(row[0] or 0) if row else 0

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        """Rows from the collector's outbox database."""
        path = self.state / "col-1.outbox.sqlite"
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return db.execute(query).fetchall()

    def depth(self) -> int:
        return self.outbox("SELECT count(*) FROM outbox")

    def produced(self) -> dict[str, int]:
        """Messages numbered per device so far (the next seq)."""
        path = self.state / "col-1.outbox.sqlite"
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return dict(db.execute("SELECT device_id, next FROM seqs").fetchall())

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def running(proc: CollectorProcess) -> Iterator[CollectorProcess]:
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
