"""What a push route may touch: a narrow sink and the few facts it needs, not the collector.

Devices that push (vendor webhooks, Hikvision alarm hosts) are served by routes that each check
kind contributes (:data:`collector.registry.ROUTES`); :mod:`collector.service` builds one
:class:`PushContext` and :mod:`collector.receiver` serves the routes. A route records what it
accepts through :class:`PushSink` (the scheduler is one) and never imports the service.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from starlette.routing import BaseRoute

from collector.checks.base import Check, Sample
from collector.settings import CollectorSettings


class PushSink(Protocol):
    """Where pushed readings and refusals go."""

    def pushed(self, check: Check, sample: Sample) -> None:
        """Record what a device pushed."""

    def push_failed(self, check: Check, kind: str, reason: str) -> None:
        """A known device pushed something unreadable."""

    def push_refused(self) -> None:
        """A push from no known device was refused (counted only)."""


@dataclass(frozen=True)
class PushContext:
    """Everything a push route gets."""

    sink: PushSink
    checks: Sequence[Check]
    settings: CollectorSettings
    secrets: Callable[[str], str]  # secret value by env name; CheckError when unset


RouteFactory = Callable[[PushContext], list[BaseRoute]]
