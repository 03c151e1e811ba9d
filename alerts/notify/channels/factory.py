"""Build a receiver's channel from its config block and the ``IOC_*`` settings."""

from __future__ import annotations

from psycopg_pool import ConnectionPool

from alerts.notify.channels.base import Channel, Context
from alerts.notify.config import NotifyConfig, Receiver
from alerts.notify.settings import NotifySetup


def build_channel(
    receiver: Receiver,
    settings: NotifySetup,
    pool: ConnectionPool | None = None,
    config: NotifyConfig | None = None,
) -> Channel:
    """The channel for ``receiver``; a missing secret is a ``ConfigError`` naming the field."""

    def channel_of(name: str) -> str | None:
        found = config.receiver(name) if config else None
        return found.channel if found else None

    ctx = Context(receiver.name, settings, pool, channel_of)
    return receiver.channel_config.build(ctx)
