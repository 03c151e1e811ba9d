"""Message text in Vietnamese (default) or English, rendered from an outbox payload.

Every plain-text channel sends what ``render`` returns: each line of it, the title included,
goes through ``ioc.oneline.one_line``, so names and free texts never start a line of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.texts import device_label
from devices.catalogue import type_counts, type_label
from ioc.oneline import one_line

MAX_LISTED = 30
UNIT_PREFIXES = ("xã ", "phường ", "thị trấn ")

TEXT: dict[str, dict[str, str]] = {
    "vi": {
        "firing": "ĐANG CẢNH BÁO",
        "resolved": "ĐÃ KHẮC PHỤC",
        "repeat": "NHẮC LẠI",
        "escalation": "CHUYỂN CẤP {level}",
        "critical": "Nghiêm trọng",
        "warning": "Cảnh báo",
        "info": "Thông tin",
        "count": "{n} cảnh báo",
        "firing_head": "Đang cảnh báo ({n}):",
        "resolved_head": "Đã khắc phục ({n}):",
        "brief": "ĐÃ TỰ KHẮC PHỤC",
        "brief_head": "Đã tự khắc phục trước khi kịp báo ({n}):",
        "escalation_note": "Chưa được xác nhận trong thời hạn, chuyển cấp {level}.",
        "device": "Thiết bị",
        "place": "Địa điểm",
        "commune": "Xã",
        "since": "Từ lúc",
        "resolved_at": "Khắc phục lúc",
        "impact": "Ảnh hưởng",
        "unreachable": "không truy cập được",
        "root_cause": "Nguyên nhân gốc",
        "acked": "Đã xác nhận bởi",
        "link": "Chi tiết",
        "more": "… và {n} cảnh báo khác",
        "tz": "giờ Việt Nam",
    },
    "en": {
        "firing": "FIRING",
        "resolved": "RESOLVED",
        "repeat": "REMINDER",
        "escalation": "ESCALATION {level}",
        "critical": "Critical",
        "warning": "Warning",
        "info": "Info",
        "count": "{n} alerts",
        "firing_head": "Firing ({n}):",
        "resolved_head": "Resolved ({n}):",
        "brief": "SELF-RESOLVED",
        "brief_head": "Resolved by itself before it was sent ({n}):",
        "escalation_note": "Not acknowledged in time, escalated to level {level}.",
        "device": "Device",
        "place": "Site",
        "commune": "Commune",
        "since": "Since",
        "resolved_at": "Resolved at",
        "impact": "Impact",
        "unreachable": "unreachable",
        "root_cause": "Root cause",
        "acked": "Acknowledged by",
        "link": "Details",
        "more": "… and {n} more alerts",
        "tz": "Vietnam time",
    },
}


@dataclass(frozen=True)
class Rendered:
    """A message ready for a channel: subject line and plain-text body."""

    title: str
    text: str


def local_zone(name: str) -> tzinfo:
    """The named zone; Vietnam's fixed +07:00 when the tz database lacks it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone(timedelta(hours=7), "ICT")


def format_time(value: str | None, zone: tzinfo) -> str:
    """``HH:MM DD/MM/YYYY`` in the local zone."""
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(zone).strftime("%H:%M %d/%m/%Y")


def alert_link(public_url: str, alert_id: int) -> str:
    """The console page of one alert (served by ``ioc api``; login, then the alert)."""
    return f"{public_url.rstrip('/')}/console/alerts/{alert_id}"


def summary_of(alert: dict[str, Any], lang: str) -> str:
    """What is wrong, in the language asked for, with sensible fallbacks."""
    text = alert.get("summary_en") if lang == "en" else alert.get("summary")
    return str(
        text
        or alert.get("summary")
        or alert.get("annotations", {}).get("description")
        or alert.get("rule")
        or "?"
    )


def commune_label(name: str | None, code: str | None, lang: str) -> str:
    """``Xã Tịnh Sơn``; names that already say Xã/Phường/Thị trấn are kept as they are."""
    if name and name.lower().startswith(UNIT_PREFIXES):
        return name
    if name or code:
        return f"Xã {name or code}" if lang == "vi" else f"{name or code} commune"
    return ""


def impact_text(impact: Any, lang: str) -> str:
    """``12 camera, 5 cụm loa truyền thanh không truy cập được``."""
    counts = type_counts(impact, lang)
    return f"{counts} {TEXT[lang]['unreachable']}" if counts else ""


def _alert_lines(alert: dict[str, Any], lang: str, zone: tzinfo, public_url: str) -> list[str]:
    t = TEXT[lang]
    severity = t.get(alert.get("severity") or "", alert.get("severity") or "")
    lines = [f"• [{severity}] {summary_of(alert, lang)}"]
    if alert.get("device_id"):
        kind = type_label(alert.get("device_type"), lang)
        name = alert.get("device_name") or alert["device_id"]
        label = device_label(name, alert.get("device_type") or "", kind, lang)
        lines.append(f"  {t['device']}: {label} ({alert['device_id']})")
    place = [p for p in (alert.get("site_name") or alert.get("site_id"),) if p]
    commune = commune_label(alert.get("commune_name"), alert.get("commune_code"), lang)
    if commune:
        place.append(commune)
    if place:
        lines.append(f"  {t['place']}: {' - '.join(place)}")
    lines.append(f"  {t['since']}: {format_time(alert.get('started_at'), zone)} ({t['tz']})")
    if alert.get("status") == "resolved" and alert.get("resolved_at"):
        lines.append(f"  {t['resolved_at']}: {format_time(alert['resolved_at'], zone)}")
    annotations = alert.get("annotations") or {}
    impact = impact_text(annotations.get("impact"), lang)
    if impact and t["unreachable"] not in summary_of(alert, lang):  # else the summary says it
        lines.append(f"  {t['impact']}: {impact}")
    if annotations.get("root_cause_device"):
        lines.append(f"  {t['root_cause']}: {annotations['root_cause_device']}")
    if alert.get("acknowledged_by"):
        lines.append(f"  {t['acked']}: {alert['acknowledged_by']}")
    lines.append(f"  {t['link']}: {alert_link(public_url, alert['id'])}")
    return lines


def render(payload: dict[str, Any], lang: str, public_url: str, zone: tzinfo) -> Rendered:
    """Title and body for a notification payload (see ``model.Message.payload``)."""
    t = TEXT[lang]
    alerts = payload.get("alerts", [])
    firing = [a for a in alerts if a.get("status") == "firing"]
    resolved = [a for a in alerts if a.get("status") == "resolved" and not a.get("brief")]
    brief = [a for a in alerts if a.get("status") == "resolved" and a.get("brief")]
    kind = payload.get("kind", "firing")
    if kind == "resolved" and brief and not resolved:
        kind = "brief"
    tag = t.get(kind, kind).format(level=payload.get("level", 0))
    where = _group_place(payload, alerts, lang)
    about = firing or resolved or brief
    what = summary_of(about[0], lang) if len(about) == 1 else t["count"].format(n=len(about))
    title = one_line(f"[{tag}] {where}: {what}" if where else f"[{tag}] {what}")
    body = [title, ""]
    if kind == "escalation":
        body += [t["escalation_note"].format(level=payload.get("level", 0)), ""]
    listed = 0
    for head, items in (
        ("firing_head", firing),
        ("resolved_head", resolved),
        ("brief_head", brief),
    ):
        if not items:
            continue
        body.append(t[head].format(n=len(items)))
        for alert in items:
            if listed >= MAX_LISTED:
                break
            body += _alert_lines(alert, lang, zone, public_url)
            listed += 1
        body.append("")
    if len(alerts) > listed:
        body.append(t["more"].format(n=len(alerts) - listed))
    # Every line once more through one_line: a name or summary never breaks a line of its own.
    return Rendered(title=title, text="\n".join(one_line(line) for line in body).rstrip() + "\n")


def _group_place(payload: dict[str, Any], alerts: list[dict[str, Any]], lang: str) -> str:
    communes = {commune_label(a.get("commune_name"), a.get("commune_code"), lang) for a in alerts}
    communes.discard("")
    if len(communes) == 1:
        return next(iter(communes))
    grouped = payload.get("group_labels") or {}
    return ", ".join(f"{k}={v}" for k, v in sorted(grouped.items()) if v)
