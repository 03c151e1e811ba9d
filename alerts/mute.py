"""What mutes an alert: one interface shared by topology inhibition and silences.

Like Alertmanager's ``Muter``: a stage is asked about an alert's labels and answers with the
ids of what mutes it (root-cause alert ids, silence ids); an empty list lets the alert through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class Muter(Protocol):
    """Anything that may mute alerts by their labels."""

    def muted_by(self, labels: Mapping[str, str]) -> list[int]:
        """Ids of whatever mutes an alert with these labels (empty: not muted)."""
        ...


def mutes(muter: Muter, labels: Mapping[str, str]) -> bool:
    """Whether ``muter`` mutes an alert with ``labels``."""
    return bool(muter.muted_by(labels))


class TopologyInhibitor:
    """Mutes alerts of unreachable devices by the open alert of their root-cause device."""

    def __init__(self, unreachable: Mapping[str, str], root_alerts: Mapping[str, int]) -> None:
        self.unreachable = unreachable
        self.root_alerts = root_alerts

    def muted_by(self, labels: Mapping[str, str]) -> list[int]:
        """The root-cause alert id when the alert's device is cut off."""
        root = self.unreachable.get(labels.get("device", ""))
        if root is None or root == labels.get("device"):
            return []
        alert_id = self.root_alerts.get(root)
        return [alert_id] if alert_id is not None else []
