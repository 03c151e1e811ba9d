"""Any platform answering JSON: polls (``check``), the declarative mapping (``mapping``) and
webhooks (``route``)."""

from collector.checks.http_json.check import HttpJsonCheck, HttpJsonParams
from collector.checks.http_json.route import webhook_routes

__all__ = ["HttpJsonCheck", "HttpJsonParams", "webhook_routes"]
