"""The check family: one module per protocol, each a :class:`collector.checks.base.Check`.

``REGISTRY`` maps the name used under ``checks:`` in the inventory to the class. A protocol
module is imported here once; a new family member adds one line.
"""

from __future__ import annotations

from collector.checks.base import Check
from collector.checks.dahua import DahuaCheck
from collector.checks.hikvision import HikvisionCheck
from collector.checks.http_json import HttpJsonCheck
from collector.checks.onvif import OnvifCheck
from collector.checks.ping import PingCheck
from collector.checks.rtsp import RtspCheck
from collector.checks.snmp import SnmpCheck

REGISTRY: dict[str, type[Check]] = {
    PingCheck.name: PingCheck,
    SnmpCheck.name: SnmpCheck,
    HttpJsonCheck.name: HttpJsonCheck,
    HikvisionCheck.name: HikvisionCheck,
    DahuaCheck.name: DahuaCheck,
    OnvifCheck.name: OnvifCheck,
    RtspCheck.name: RtspCheck,
}
