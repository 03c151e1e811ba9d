"""The clustered bus (``IOC_BUS=nats``): names shared by ingest, credentials and ``ioc bus``.

Devices and the collector speak MQTT 3.1.1 to any node's MQTT listener. NATS stores every QoS 1
MQTT PUBLISH in its own replicated stream ``$MQTT_msgs`` (subject ``$MQTT.msgs.`` + the topic
with ``/`` turned into ``.``) *before* it sends the PUBACK; ingest reads that stream through one
durable pull consumer shared by every ingest instance (see docs/scale-out.md for why this stream
and not a stream of our own).
"""

from __future__ import annotations

# NATS's MQTT implementation (2.9): stream and subject prefix of stored QoS 1 publishes.
MQTT_STREAM = "$MQTT_msgs"
MQTT_SUBJECT_PREFIX = "$MQTT.msgs."
# The durable consumer every ingest instance pulls from.
INGEST_DURABLE = "ioc-ingest"


def topic_to_subject(topic: str) -> str:
    """NATS subject of an MQTT topic (``ioc/v1/a/b`` -> ``ioc.v1.a.b``; wildcards kept)."""
    return topic.replace("/", ".").replace("#", ">").replace("+", "*")


def subject_to_topic(subject: str) -> str:
    """MQTT topic of a subject of the MQTT stream (prefix dropped, ``.`` -> ``/``)."""
    return subject.removeprefix(MQTT_SUBJECT_PREFIX).replace(".", "/")
