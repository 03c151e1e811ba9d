"""Where ingest reads from: the MQTT broker (``IOC_BUS=mosquitto``) or the bus's JetStream
consumer (``IOC_BUS=nats``). Both hand ``Inbound`` messages to the writer and ack on request."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Protocol

from ingest.mqtt import Consumer, Inbound
from ingest.settings import IngestSettings
from ioc.mqttclient import MqttTarget
from ioc.settings import Settings


class Source(Protocol):
    """What the ingest service needs of a message source."""

    accepting: bool
    connected: threading.Event

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def ack(self, items: Iterable[Inbound]) -> int: ...


def make_source(
    settings: Settings, ingest: IngestSettings, sink: Callable[[Inbound], None]
) -> Source:
    """The source the bus setting names."""
    if settings.bus == "nats":
        from ingest.jetstream import JetStreamConsumer
        from ioc.bus.consumer import mqtt_touch

        first = settings.mqtt_url_list[0]
        return JetStreamConsumer(settings.nats_url_list, ingest, sink, lambda: mqtt_touch(first))
    return Consumer(MqttTarget(settings.mqtt_url, settings.mqtt_protocol), ingest, sink)
