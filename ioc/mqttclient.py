"""The broker address and the one MQTT client factory, beside the MQTT contract (ioc/contract.py).

Every long-lived paho client (ingest, the collector's forwarder, the simulators, the alert
engine's ingest watch, the demo) is made by ``client``: the callback API version, the protocol
(MQTT 5 or 3.1.1, from ``IOC_MQTT_PROTOCOL``), the login and TLS from ``IOC_MQTT_URL``, and the
last will, which is set before connecting because it is part of CONNECT.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


class MqttTarget:
    """Broker address parsed from ``IOC_MQTT_URL``."""

    def __init__(self, url: str, protocol: str = "5") -> None:
        parts = urlsplit(url)
        self.v5 = protocol == "5"
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.netloc:
            raise ValueError(
                f"{url!r} is not an MQTT URL; e.g. mqtt://localhost:1883 "
                "(mqtts:// for TLS, mqtt://user:password@host:port with a login)"
            )
        self.tls = parts.scheme in ("mqtts", "ssl")
        self.host = parts.hostname or "localhost"
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"{url!r} has a bad port; e.g. mqtt://localhost:1883") from exc
        self.port = port or (8883 if self.tls else 1883)
        self.username = parts.username
        self.password = parts.password

    def __repr__(self) -> str:
        auth = f"{self.username}:***@" if self.username else ""
        return f"mqtt{'s' if self.tls else ''}://{auth}{self.host}:{self.port}"


def client(
    target: MqttTarget,
    client_id: str,
    *,
    will: tuple[str, str | bytes] | None = None,
    protocol: mqtt.MQTTProtocolVersion | None = None,
    client_type: type[mqtt.Client] = mqtt.Client,
    **options: Any,
) -> mqtt.Client:
    """A paho client for ``target`` (not connected yet).

    ``will``: (topic, payload) of the retained last will (QoS 1); ``protocol``: paho's protocol
    constant, default MQTT 5 or 3.1.1 as the target says; ``client_type``: a paho ``Client``
    subclass; ``options``: more ``Client`` arguments (``clean_session``, ``manual_ack``).
    """
    if protocol is None:
        protocol = mqtt.MQTTv5 if target.v5 else mqtt.MQTTv311
    made = client_type(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, **options
    )
    if target.username:
        made.username_pw_set(target.username, target.password)
    if target.tls:
        made.tls_set()
    if will is not None:
        made.will_set(will[0], will[1], qos=1, retain=True)
    return made
