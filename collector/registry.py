"""The one place that lists the check kinds (:class:`collector.checks.base.Check` subclasses).

``REGISTRY`` maps the name used under ``checks:`` in the inventory to the class; ``ROUTES`` the
kinds that devices push to, to the factory of their receiver routes. A new kind adds one line.
"""

from __future__ import annotations

from collector.alarmhost_route import alarm_host_routes
from collector.checks.base import Check
from collector.checks.dahua import DahuaCheck
from collector.checks.hikvision import HikvisionCheck
from collector.checks.http_json import HttpJsonCheck
from collector.checks.http_json_route import webhook_routes
from collector.checks.onvif import OnvifCheck
from collector.checks.ping import PingCheck
from collector.checks.rtsp import RtspCheck
from collector.checks.snmp import SnmpCheck
from collector.push import RouteFactory

REGISTRY: dict[str, type[Check]] = {
    PingCheck.name: PingCheck,
    SnmpCheck.name: SnmpCheck,
    HttpJsonCheck.name: HttpJsonCheck,
    HikvisionCheck.name: HikvisionCheck,
    DahuaCheck.name: DahuaCheck,
    OnvifCheck.name: OnvifCheck,
    RtspCheck.name: RtspCheck,
}

ROUTES: dict[str, RouteFactory] = {
    HttpJsonCheck.name: webhook_routes,
    HikvisionCheck.name: alarm_host_routes,
}
