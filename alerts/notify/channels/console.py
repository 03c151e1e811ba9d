"""Console channel: logs the rendered message (``ioc demo``, development)."""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import BaseModel, ConfigDict

from alerts.notify.channels.base import Channel, Context, Outgoing

log = logging.getLogger(__name__)


class ConsoleConfig(BaseModel):
    """Log the rendered message (``ioc demo``, development)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: Literal["INFO", "WARNING"] = "WARNING"

    def build(self, ctx: Context) -> ConsoleChannel:
        """A console channel."""
        return ConsoleChannel(self)


class ConsoleChannel(Channel):
    """Writes the message to the log."""

    def __init__(self, config: ConsoleConfig) -> None:
        self.level = logging.getLevelName(config.level)

    def send(self, note: Outgoing) -> None:
        """Log the title and body."""
        log.log(
            self.level, "notification %s to %s:\n%s", note.id, note.receiver, note.rendered.text
        )
