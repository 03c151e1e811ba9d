"""Console channel: logs the rendered message (``ioc demo``, development)."""

from __future__ import annotations

import logging

from alerts.notify.channels.base import Channel, Outgoing
from alerts.notify.config import ConsoleConfig

log = logging.getLogger(__name__)


class ConsoleChannel(Channel):
    """Writes the message to the log."""

    kind = "console"

    def __init__(self, config: ConsoleConfig) -> None:
        self.level = logging.getLevelName(config.level)

    def send(self, note: Outgoing) -> None:
        """Log the title and body."""
        log.log(
            self.level, "notification %s to %s:\n%s", note.id, note.receiver, note.rendered.text
        )
