"""The durable consumer ingest shares, made ahead of devices: NATS's MQTT stream keeps a message
only while some consumer is interested (interest retention), so it must exist before devices
publish. ``ioc bus local`` and every ingest instance make it (the same settings again are
accepted; changed ones such as ``ack_wait`` are updated)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import BadRequestError, NotFoundError

from ioc.bus import INGEST_DURABLE, MQTT_STREAM, MQTT_SUBJECT_PREFIX

log = logging.getLogger(__name__)

DEFAULT_ACK_WAIT_S = 30.0
DEFAULT_MAX_ACK_PENDING = 20000
WAIT_LOG_EVERY_S = 30.0


def consumer_config(
    ack_wait_s: float = DEFAULT_ACK_WAIT_S, max_ack_pending: int = DEFAULT_MAX_ACK_PENDING
) -> ConsumerConfig:
    """Settings of the shared durable pull consumer (every topic: ingest quarantines strays)."""
    return ConsumerConfig(
        durable_name=INGEST_DURABLE,
        filter_subject=MQTT_SUBJECT_PREFIX + ">",
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=ack_wait_s,
        max_ack_pending=max_ack_pending,
        max_deliver=-1,
        max_waiting=512,
    )


async def ensure_consumer(
    js: Any,
    config: ConsumerConfig,
    touch: Callable[[], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Wait for the MQTT stream (NATS makes it at an account's first MQTT connect, which
    ``touch`` causes), then create or update the durable consumer."""
    logged = -WAIT_LOG_EVERY_S
    while stop is None or not stop.is_set():
        try:
            await js.add_consumer(MQTT_STREAM, config)
            return
        except BadRequestError as exc:  # an older config the server will not update: keep it
            log.warning("consumer %s kept as it is (%s)", INGEST_DURABLE, exc)
            return
        except (NotFoundError, NatsTimeout, nats.errors.Error) as exc:
            if time.monotonic() - logged >= WAIT_LOG_EVERY_S:
                logged = time.monotonic()
                log.warning("waiting for the bus's MQTT stream %s: %s", MQTT_STREAM, exc)
            if touch is not None:
                await asyncio.get_running_loop().run_in_executor(None, touch)
            await asyncio.sleep(0.5)


def mqtt_touch(url: str) -> None:
    """Connect once over MQTT so that NATS creates its MQTT streams; failures are only logged
    (the caller retries)."""
    from ioc.mqttclient import MqttTarget
    from ioc.mqttclient import client as mqtt_client

    target = MqttTarget(url, "3.1.1")
    client = mqtt_client(target, "")
    try:
        client.connect(target.host, target.port, keepalive=10)
        client.loop(timeout=5.0)  # the CONNACK comes once the streams exist
        client.disconnect()
    except OSError as exc:
        log.warning("cannot reach the bus's MQTT listener at %s: %s", target, exc)


def prepare(nats_urls: list[str], mqtt_url: str, config: ConsumerConfig | None = None) -> None:
    """Make the MQTT streams and the shared consumer now (blocking; for `ioc bus local`)."""

    async def run() -> None:
        nc = await nats.connect(servers=nats_urls, connect_timeout=2, max_reconnect_attempts=5)
        try:
            await ensure_consumer(
                nc.jetstream(timeout=5), config or consumer_config(), lambda: mqtt_touch(mqtt_url)
            )
        finally:
            await nc.close()

    asyncio.run(run())
