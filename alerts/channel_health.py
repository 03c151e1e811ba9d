"""Self-monitoring of notification channels: a ``channel_down`` alert per channel that cannot
send (``notify_channel_health``; e.g. Zalo when its tokens cannot be refreshed).

The alert goes through the normal routes: route ``rule="channel_down"`` to another channel
(docs/notifications.md), since the broken one cannot carry news of itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg

from alerts.rules.base import Condition, Texts

RULE = "channel_down"
DOWN_SQL = """
SELECT channel, down_since, coalesce(reason, '') FROM notify_channel_health
WHERE down_since IS NOT NULL ORDER BY channel
"""


@dataclass(frozen=True)
class ChannelDownRule:
    """The built-in rule behind ``channel_down`` alerts (one per channel)."""

    name: str = RULE
    kind: str = "channel"
    severity: str = "critical"
    for_: timedelta = timedelta(0)

    def fingerprint(self, cond: Condition) -> str:
        """One alert per channel."""
        return f"{RULE}:{cond.details.get('channel', '')}"

    def texts(self) -> Texts:
        """Fixed texts."""
        return Texts(
            vi="Kênh thông báo {channel} không gửi được tin ({reason})",
            en="Notification channel {channel} cannot send ({reason})",
        )

    def template_vars(self, cond: Condition) -> dict[str, Any]:
        """The channel and the last error."""
        return {"channel": cond.details.get("channel", ""), "reason": cond.details.get("reason")}

    def annotations(self, cond: Condition) -> dict[str, Any]:
        """What is down, why, and since when."""
        return {"kind": self.kind, **cond.details}

    def check(self, conn: psycopg.Connection) -> list[Condition]:
        """A condition per channel marked down."""
        return [
            Condition(
                None,
                None,
                True,
                details={"channel": channel, "reason": reason[:200], "since": since.isoformat()},
            )
            for channel, since, reason in conn.execute(DOWN_SQL).fetchall()
        ]
