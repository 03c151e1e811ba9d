"""The one place that lists the check kinds: one line per kind (a vendor is one folder under
``collector/checks/`` plus its line here).

``REGISTRY`` maps the name used under ``checks:`` in the inventory to the check class; ``ROUTES``
maps the kinds devices push to, to the factory of their receiver routes.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.checks.base import Check
from collector.checks.dahua import DahuaCheck
from collector.checks.hikvision import HikvisionCheck, alarm_host_routes
from collector.checks.http_json import HttpJsonCheck, webhook_routes
from collector.checks.http_snapshot import SnapshotCheck
from collector.checks.onvif import OnvifCheck
from collector.checks.ping import PingCheck
from collector.checks.rtsp import RtspCheck
from collector.checks.snmp import SnmpCheck
from collector.push import RouteFactory


@dataclass(frozen=True)
class Kind:
    """A check kind and, when devices push to it, its receiver routes."""

    check: type[Check]
    routes: RouteFactory | None = None


KINDS: list[Kind] = [
    Kind(PingCheck),
    Kind(SnmpCheck),
    Kind(HttpJsonCheck, webhook_routes),
    Kind(HikvisionCheck, alarm_host_routes),
    Kind(DahuaCheck),
    Kind(OnvifCheck),
    Kind(RtspCheck),
    Kind(SnapshotCheck),
]

REGISTRY: dict[str, type[Check]] = {kind.check.name: kind.check for kind in KINDS}
ROUTES: dict[str, RouteFactory] = {k.check.name: k.routes for k in KINDS if k.routes}
