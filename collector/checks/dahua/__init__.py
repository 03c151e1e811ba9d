"""Dahua cameras and NVRs: CGI polls and the attach event stream (``check``), the CGI answers
(``cgi``)."""

from collector.checks.dahua.cgi import parse_kv
from collector.checks.dahua.check import DahuaCheck, DahuaParams

__all__ = ["DahuaCheck", "DahuaParams", "parse_kv"]
