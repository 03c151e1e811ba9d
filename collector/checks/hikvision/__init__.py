"""Hikvision cameras and NVRs: ISAPI polls and alertStream (``check``), the ISAPI documents
(``isapi``), alarm-host pushes (``alarmhost``) and their receiver route (``route``)."""

from collector.checks.hikvision.check import HikvisionCheck, HikvisionParams
from collector.checks.hikvision.route import alarm_host_routes

__all__ = ["HikvisionCheck", "HikvisionParams", "alarm_host_routes"]
