"""Webhook channel: POST JSON, either the IOC body or the Alertmanager webhook v4 body."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from alerts.notify.channels.base import (
    Channel,
    Context,
    Outgoing,
    http_status_error,
    http_transport_error,
)
from alerts.notify.templates import alert_link, summary_of
from ioc.durations import Duration

ZERO_TIME = "0001-01-01T00:00:00Z"


class WebhookConfig(BaseModel):
    """POST JSON to a URL; ``alertmanager`` sends the Alertmanager webhook v4 body."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://")
    format: Literal["ioc", "alertmanager"] = "ioc"
    headers: dict[str, str] = {}
    timeout: Duration = timedelta(seconds=5)

    def build(self, ctx: Context) -> WebhookChannel:
        """A webhook channel (needs nothing from the settings)."""
        return WebhookChannel(self)


class WebhookChannel(Channel):
    """Posts each note to one URL; the dedup key travels in the body and headers."""

    dedupes = True

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        self.client = httpx.Client(timeout=config.timeout.total_seconds())

    def send(self, note: Outgoing) -> None:
        """POST the body; non-2xx and transport errors become ``DeliveryError``."""
        body = alertmanager_body(note) if self.config.format == "alertmanager" else ioc_body(note)
        headers = {
            **self.config.headers,
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": note.dedup_key,
            "X-IOC-Notification-Id": str(note.id),
            "X-IOC-Dedup-Key": note.dedup_key,
        }
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            response = self.client.post(self.config.url, content=data, headers=headers)
        except httpx.HTTPError as exc:
            raise http_transport_error(exc, "webhook") from exc
        if not response.is_success:
            raise http_status_error(response, "webhook")

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.client.close()


def _status(note: Outgoing) -> str:
    alerts = note.payload.get("alerts", [])
    return "firing" if any(a.get("status") == "firing" for a in alerts) else "resolved"


def ioc_body(note: Outgoing) -> dict[str, Any]:
    """The native body: rendered text plus every alert's snapshot and link."""
    return {
        "version": "ioc/1",
        "notification_id": note.id,
        "dedup_key": note.dedup_key,
        "kind": note.kind,
        "status": _status(note),
        "receiver": note.receiver,
        "route": note.payload.get("route"),
        "group_key": note.group_key,
        "group_labels": note.payload.get("group_labels", {}),
        "escalation_level": note.payload.get("level", 0),
        "language": note.language,
        "title": note.rendered.title,
        "text": note.rendered.text,
        "alerts": [
            {**a, "url": alert_link(note.public_url, a["id"])}
            for a in note.payload.get("alerts", [])
        ],
    }


def _string_annotations(alert: dict[str, Any], language: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (alert.get("annotations") or {}).items():
        out[key] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    out["summary"] = summary_of(alert, language)
    return out


def _common(items: list[dict[str, str]]) -> dict[str, str]:
    if not items:
        return {}
    first = items[0]
    return {k: v for k, v in first.items() if all(i.get(k) == v for i in items[1:])}


def alertmanager_body(note: Outgoing) -> dict[str, Any]:
    """Alertmanager webhook v4 body, so existing Alertmanager receivers work unchanged."""
    alerts = []
    for a in note.payload.get("alerts", []):
        labels = {"alertname": a.get("rule") or "", **a.get("labels", {})}
        resolved = a.get("status") == "resolved"
        alerts.append(
            {
                "status": a.get("status"),
                "labels": labels,
                "annotations": _string_annotations(a, note.language),
                "startsAt": a.get("started_at"),
                "endsAt": a.get("resolved_at") if resolved and a.get("resolved_at") else ZERO_TIME,
                "generatorURL": alert_link(note.public_url, a["id"]),
                "fingerprint": a.get("fingerprint") or "",
            }
        )
    return {
        "version": "4",
        "groupKey": note.group_key,
        "truncatedAlerts": 0,
        "status": _status(note),
        "receiver": note.receiver,
        "groupLabels": note.payload.get("group_labels", {}),
        "commonLabels": _common([a["labels"] for a in alerts]),
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": note.public_url,
        "alerts": alerts,
        # Extensions (ignored by Alertmanager receivers): what a receiver dedupes on.
        "notificationId": note.id,
        "dedupKey": note.dedup_key,
        "kind": note.kind,
    }
