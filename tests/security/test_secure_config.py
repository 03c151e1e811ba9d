"""The shipped production broker config (mosquitto/secure.conf.example) really runs and enforces
what docs/security.md says: TLS and plain device listeners with client id = username, an
internal service listener, no anonymous access, and the tuning of mosquitto/mosquitto.conf."""

from __future__ import annotations

import getpass
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devices.credentials import active_logins, issue_devices, issue_service
from devices.mqtt_files import INGEST_USER, render_acl, render_passwd, write_atomically
from tests.plugins.broker import (
    DEPLOYMENT_DIRECTIVES,
    REPO,
    Mosquitto,
    free_port,
    tuning_from_repo_conf,
)
from tests.security.mqtt_helpers import Probe, connect
from tests.util import wait_until

EXAMPLE = REPO / "mosquitto" / "secure.conf.example"


def test_tuning_matches_the_shipped_mosquitto_conf() -> None:
    ours = [
        line.strip()
        for line in EXAMPLE.read_text().splitlines()
        if line.strip()
        and not line.strip().startswith("#")
        and line.split()[0] not in DEPLOYMENT_DIRECTIVES
        and line.split()[0]
        not in ("per_listener_settings", "use_username_as_clientid", "tls_version")
    ]
    assert sorted(ours) == sorted(tuning_from_repo_conf())


class ExampleBroker(Mosquitto):
    """Mosquitto running secure.conf.example with ports, paths and certificates made local."""

    def __init__(self, cert: Path, key: Path) -> None:
        super().__init__()
        self.ports = {"8883": self.port, "1883": free_port(), "1884": free_port()}
        self.cert, self.key = cert, key

    def write_conf(self) -> Path:
        paths = {
            "password_file": self.dir / "passwd",
            "acl_file": self.dir / "acl",
            "certfile": self.cert,
            "keyfile": self.key,
            "persistence_location": f"{self.dir}/",
        }
        out = []
        for raw in EXAMPLE.read_text().splitlines():
            words = raw.split()
            if not words or raw.startswith("#"):
                continue
            if words[0] == "listener":
                out.append(f"listener {self.ports[words[1]]} 127.0.0.1")
            elif words[0] in paths:
                out.append(f"{words[0]} {paths[words[0]]}")
            elif words[0] == "log_dest":
                out.append(f"log_dest file {self.dir}/mosquitto.log")
            else:
                out.append(raw)
        out.insert(0, f"user {getpass.getuser()}")
        conf = self.dir / "mosquitto.conf"
        conf.write_text("\n".join(out) + "\n")
        return conf


@pytest.fixture
def example_broker(
    registry_db: psycopg.Connection, tmp_path: Path
) -> Iterator[tuple[ExampleBroker, dict[str, str]]]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "broker.crt", tmp_path / "broker.key"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    key.chmod(0o644)  # read by the broker after it drops privileges (test only)
    issued = issue_devices(registry_db).issued + issue_service(registry_db, "ingest").issued
    broker = ExampleBroker(cert, key)
    logins = active_logins(registry_db)
    write_atomically(broker.dir / "passwd", render_passwd(logins))
    write_atomically(broker.dir / "acl", render_acl(logins))
    broker.start()
    yield broker, {i.username: i.password for i in issued}
    broker.close()


def test_example_config_enforces_identity_on_every_listener(
    example_broker: tuple[ExampleBroker, dict[str, str]],
) -> None:
    broker, secrets = example_broker
    tls, plain, service = (broker.ports[p] for p in ("8883", "1883", "1884"))
    ca = str(broker.cert)
    probes: list[Probe] = []
    try:
        reader = connect(service, INGEST_USER, secrets[INGEST_USER], "ioc-ingest-test")
        probes.append(reader)
        assert not reader.subscribe("$share/ioc-ingest/ioc/v1/+/+/+").is_failure
        cam = connect(tls, "cam-a", secrets["cam-a"], "cam-a", tls_ca=ca)
        probes.append(cam)
        assert cam.connected
        assert cam.publish("ioc/v1/21025/cam-b/telemetry").value == 135
        assert not cam.publish("ioc/v1/21025/cam-a/telemetry").is_failure
        for port, tls_ca in ((tls, ca), (plain, None), (service, None)):
            for user, password in ((None, None), ("cam-a", "wrong")):
                refused = connect(port, user, password, "cam-a", tls_ca=tls_ca)
                probes.append(refused)
                assert refused.connack is not None and refused.connack.is_failure
        # Another device claiming cam-a's client id on the plain device listener: no eviction.
        other = connect(plain, "cam-b", secrets["cam-b"], "cam-a")
        probes.append(other)
        assert not other.publish("ioc/v1/21025/cam-b/telemetry").is_failure
        assert not cam.publish("ioc/v1/21025/cam-a/event").is_failure
        wait_until(lambda: len(reader.topics()) == 3, message="three legitimate messages")
        assert cam.connected and other.connected
    finally:
        for probe in probes:
            probe.close()
