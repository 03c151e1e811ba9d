"""ONVIF cameras: SOAP polls (``check``) and PullPoint event subscriptions (``pullpoint``)."""

from collector.checks.onvif.check import OnvifCheck, OnvifParams

__all__ = ["OnvifCheck", "OnvifParams"]
