"""Fixtures of the security tests: a small two-commune registry and a broker that enforces it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from devices.credentials import active_logins, issue_devices, issue_service
from devices.mqtt_files import render_acl, render_passwd, write_atomically
from devices.registry import parse_yaml
from devices.store import import_registry
from ioc.ports import free_port
from tests.plugins.broker import Mosquitto

REGISTRY = """
communes:
  - {code: "21025", name: "Xã Tịnh Sơn", province: "Quảng Ngãi"}
  - {code: "21026", name: "Xã Tịnh Hà", province: "Quảng Ngãi"}
devices:
  - {id: cam-a, type: camera, commune: "21025", name: "Camera A"}
  - {id: cam-b, type: camera, commune: "21025", name: "Camera B"}
  - {id: spk-x, type: speaker, commune: "21026", name: "Loa X"}
  - {id: cam-old, type: camera, commune: "21025", name: "Camera cũ", decommissioned: true}
"""


@pytest.fixture
def registry_db(db: psycopg.Connection) -> psycopg.Connection:
    """The test database with the two-commune registry imported."""
    import_registry(db, parse_yaml(REGISTRY, "security-test"))
    return db


@dataclass
class SecureBroker:
    """A test-owned Mosquitto running the generated password and ACL files."""

    broker: Mosquitto
    conn: psycopg.Connection
    secrets: dict[str, str]
    service_port: int

    @property
    def port(self) -> int:
        """The device listener (use_username_as_clientid)."""
        return self.broker.port

    def rewrite_files(self) -> None:
        """Regenerate the password and ACL files from the database (as the CLI does)."""
        logins = active_logins(self.conn)
        write_atomically(self.broker.dir / "passwd", render_passwd(logins), 0o644)
        write_atomically(self.broker.dir / "acl", render_acl(logins), 0o644)

    def reload(self) -> None:
        """SIGHUP, as `kill -HUP $(pidof mosquitto)` does."""
        assert self.broker.proc is not None
        self.broker.proc.send_signal(1)


def secure_conf(broker: Mosquitto, service_port: int) -> str:
    """The auth lines of mosquitto/secure.conf.example, pointed at the broker's own files."""
    return "\n".join(
        [
            "allow_anonymous false",
            f"password_file {broker.dir}/passwd",
            f"acl_file {broker.dir}/acl",
            "use_username_as_clientid true",
            # The internal listener for services (several ingest workers share one login).
            f"listener {service_port} 127.0.0.1",
        ]
    )


@pytest.fixture
def secure_broker(registry_db: psycopg.Connection) -> Iterator[SecureBroker]:
    """Credentials issued to every device and both services, and a broker enforcing them."""
    issued = issue_devices(registry_db).issued
    issued += issue_service(registry_db, "ingest").issued
    issued += issue_service(registry_db, "simulator").issued
    broker = Mosquitto()
    service_port = free_port()
    broker.extra_conf = secure_conf(broker, service_port)
    secrets = {i.username: i.password for i in issued}
    secure = SecureBroker(broker, registry_db, secrets, service_port)
    secure.rewrite_files()
    broker.start()
    yield secure
    broker.close()
