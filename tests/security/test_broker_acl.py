"""The generated password and ACL files, enforced by a real Mosquitto owned by the test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devices.credentials import issue_devices, revoke
from devices.mqtt_files import INGEST_USER, SIMULATOR_USER
from tests.security.conftest import SecureBroker
from tests.security.mqtt_helpers import Probe, connect
from tests.util import wait_until

NOT_AUTHORISED = 135


@pytest.fixture
def probes() -> Iterator[list[Probe]]:
    """Clients opened by a test, closed at its end."""
    opened: list[Probe] = []
    yield opened
    for probe in opened:
        probe.close()


def login(
    sb: SecureBroker,
    probes: list[Probe],
    user: str | None,
    password: str | None = None,
    client_id: str = "",
    will_topic: str | None = None,
) -> Probe:
    probe = connect(sb.port, user, password, client_id, will_topic)
    probes.append(probe)
    return probe


def ingest(sb: SecureBroker, probes: list[Probe], topic: str = "ioc/v1/#") -> Probe:
    reader = login(sb, probes, INGEST_USER, sb.secrets[INGEST_USER], "ingest-test")
    assert reader.connected
    assert not reader.subscribe(topic).is_failure
    return reader


def test_device_publishes_only_under_its_own_commune_and_id(
    secure_broker: SecureBroker, probes: list[Probe]
) -> None:
    reader = ingest(secure_broker, probes, "$share/ingest/ioc/v1/#")
    cam = login(
        secure_broker,
        probes,
        "cam-a",
        secure_broker.secrets["cam-a"],
        will_topic="ioc/v1/21025/cam-a/status",  # the last will is accepted under its own id
    )
    assert cam.connected
    spoofed = [
        "ioc/v1/21025/cam-b/telemetry",  # another device of the same commune
        "ioc/v1/21026/cam-a/telemetry",  # its own id under another commune
        "ioc/v1/21026/spk-x/event",  # another commune's device
        "ioc/v1/21025/cam-a/other",  # not a contract channel
        "ioc/system/ingest/health",
    ]
    for topic in spoofed:
        assert cam.publish(topic).value == NOT_AUTHORISED, topic
    for channel in ("telemetry", "event", "status"):
        assert not cam.publish(f"ioc/v1/21025/cam-a/{channel}").is_failure
    # The broker handles one client's messages in order: once the last legitimate one is in,
    # any spoofed one that got through would be in too.
    wait_until(lambda: len(reader.topics()) == 3, message="the device's own messages")
    assert sorted(reader.topics()) == [
        "ioc/v1/21025/cam-a/event",
        "ioc/v1/21025/cam-a/status",
        "ioc/v1/21025/cam-a/telemetry",
    ]


def test_devices_read_nothing_and_ingest_writes_no_device_topic(
    secure_broker: SecureBroker, probes: list[Probe]
) -> None:
    secrets = secure_broker.secrets
    cam = login(secure_broker, probes, "cam-a", secrets["cam-a"])
    simulator = login(secure_broker, probes, SIMULATOR_USER, secrets[SIMULATOR_USER])
    # Mosquitto grants wildcard subscriptions and filters each delivery against the ACL.
    for probe in (cam, simulator):
        for topic in ("ioc/v1/#", "#", "$SYS/#"):
            assert not probe.subscribe(topic).is_failure
    other = login(secure_broker, probes, "cam-b", secrets["cam-b"])
    assert not other.publish("ioc/v1/21025/cam-b/telemetry", retain=True).is_failure
    assert not simulator.publish("ioc/v1/21026/spk-x/telemetry").is_failure
    # A client's outgoing queue is FIFO: anything routed to it before its own PUBACK would have
    # arrived before that PUBACK. Nothing did, not even its own echo.
    for probe, own in ((cam, "ioc/v1/21025/cam-a/status"), (simulator, "ioc/v1/x/y/status")):
        assert not probe.publish(own).is_failure
        assert probe.topics() == []
    reader = ingest(secure_broker, probes)
    assert reader.publish("ioc/v1/21025/cam-a/telemetry").value == NOT_AUTHORISED
    assert not reader.publish("ioc/system/ingest/health").is_failure
    # Ingest sees the retained status of the device, proof the reads above were real filtering.
    wait_until(lambda: "ioc/v1/21025/cam-b/telemetry" in reader.topics(), message="retained")


@pytest.mark.parametrize(
    ("user", "password"),
    [
        (None, None),  # anonymous
        ("cam-a", "wrong-password"),
        ("cam-a", ""),
        ("cam-old", "anything"),  # decommissioned: never in the password file
        ("no-such-device", "x"),
    ],
)
def test_anonymous_and_bad_credentials_are_refused(
    secure_broker: SecureBroker, probes: list[Probe], user: str | None, password: str | None
) -> None:
    probe = login(secure_broker, probes, user, password)
    assert probe.connack is not None and probe.connack.is_failure


def test_revoked_device_is_refused_after_reload(
    secure_broker: SecureBroker, probes: list[Probe]
) -> None:
    cam = login(secure_broker, probes, "cam-a", secure_broker.secrets["cam-a"])
    assert cam.connected
    assert revoke(secure_broker.conn, "cam-a")
    secure_broker.rewrite_files()
    # Until the reload the broker still runs the old files.
    still = login(secure_broker, probes, "cam-a", secure_broker.secrets["cam-a"], "cam-a-2")
    assert still.connected
    secure_broker.reload()
    # On reload Mosquitto re-checks connected clients against the new password file and
    # disconnects the ones no longer in it.
    wait_until(lambda: not still.connected, message="revoked session dropped on reload")
    again = login(secure_broker, probes, "cam-a", secure_broker.secrets["cam-a"])
    assert again.connack is not None and again.connack.is_failure
    # Other devices are untouched by the reload.
    other = login(secure_broker, probes, "cam-b", secure_broker.secrets["cam-b"])
    assert other.connected
    # Re-issuing by name gives a new secret; the old one stays dead.
    fresh = issue_devices(secure_broker.conn, ["cam-a"]).issued[0].password
    secure_broker.rewrite_files()
    secure_broker.reload()
    wait_until(
        lambda: login(secure_broker, probes, "cam-a", fresh).connected,
        message="re-issued device accepted after reload",
    )
    old = login(secure_broker, probes, "cam-a", secure_broker.secrets["cam-a"])
    assert old.connack is not None and old.connack.is_failure


def test_another_identity_cannot_kick_a_device_off(
    secure_broker: SecureBroker, probes: list[Probe]
) -> None:
    reader = ingest(secure_broker, probes)
    cam_a = login(secure_broker, probes, "cam-a", secure_broker.secrets["cam-a"], "cam-a")
    assert cam_a.connected
    # Another device asking for cam-a's client id gets its own username as client id instead.
    cam_b = login(secure_broker, probes, "cam-b", secure_broker.secrets["cam-b"], "cam-a")
    assert cam_b.connected
    # Someone on the wire claiming cam-a without its secret is refused before any takeover.
    for user, password in (("cam-a", "guess"), (None, None)):
        intruder = login(secure_broker, probes, user, password, "cam-a")
        assert intruder.connack is not None and intruder.connack.is_failure
    # cam-a's session survived all of it: its next message goes through on the same connection.
    assert not cam_a.publish("ioc/v1/21025/cam-a/telemetry").is_failure
    assert not cam_b.publish("ioc/v1/21025/cam-b/telemetry").is_failure
    wait_until(lambda: len(reader.topics()) == 2, message="both devices' messages")
    assert cam_a.connected and cam_b.connected


def test_a_second_client_with_the_real_secret_takes_the_session_over(
    secure_broker: SecureBroker, probes: list[Probe]
) -> None:
    """MQTT session takeover: what the broker does NOT protect against (a leaked secret)."""
    first = login(secure_broker, probes, "cam-a", secure_broker.secrets["cam-a"])
    second = login(secure_broker, probes, "cam-a", secure_broker.secrets["cam-a"], "other-id")
    assert second.connected
    wait_until(lambda: first.disconnected is not None, message="first session taken over")


def test_services_share_a_login_only_on_the_internal_listener(
    secure_broker: SecureBroker, probes: list[Probe]
) -> None:
    """Several ingest workers use one login; on the device listener they would evict each other
    (client id = username), so services connect to the internal listener."""
    secret = secure_broker.secrets[INGEST_USER]
    workers = [
        connect(secure_broker.service_port, INGEST_USER, secret, f"ioc-ingest-w{i}")
        for i in range(2)
    ]
    probes.extend(workers)
    for worker in workers:
        assert not worker.publish("ioc/system/ingest/health").is_failure
    assert all(w.connected for w in workers)
    # The ACL is the same on both listeners: a device there is still confined to its topics.
    cam = login(secure_broker, probes, "cam-a", secure_broker.secrets["cam-a"])
    internal = connect(secure_broker.service_port, "cam-b", secure_broker.secrets["cam-b"], "x")
    probes.append(internal)
    assert internal.publish("ioc/v1/21025/cam-a/telemetry").value == NOT_AUTHORISED
    assert cam.connected
    first = login(secure_broker, probes, INGEST_USER, secret, "ioc-ingest-a")
    login(secure_broker, probes, INGEST_USER, secret, "ioc-ingest-b")
    wait_until(lambda: first.disconnected is not None, message="same username evicted")
