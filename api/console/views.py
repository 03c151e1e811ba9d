"""Rendering: the Jinja2 environment, filters (local times, device type names) and ``page()``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.console.i18n import TEXT, language
from api.console.session import LANG_COOKIE, PREFIX, Session
from api.settings import ApiSetup
from devices.catalogue import TYPES, all_metrics, type_counts, type_label
from ioc import glossary

TEMPLATES = Path(__file__).parent / "templates"
ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def impact_text(impact: Any, lang: str) -> str:
    """``9 camera, 2 cụm loa truyền thanh không truy cập được``."""
    counts = type_counts(impact, lang)
    return f"{counts} {TEXT[lang]['unreachable']}" if counts else ""


def _show(metric: str, value: float | None, lang: str) -> str:
    """A stored value in words and units (``mất hình``, ``409,6 kbit/s``)."""
    if value is None:
        return "—"
    known = all_metrics().get(metric)
    if known is None:
        return glossary.number(value, lang)
    return known.show(value, lang)


def _nb(text: str) -> str:
    """A number and its unit stay on one line ("50,0 %")."""
    return text.replace(" ", "\u00a0")


def _health(device: Any, lang: str) -> str:
    """The health word and, when there is one, its symptom (``…: mất hình``)."""
    word = glossary.health(getattr(device, "health", "unknown") or "unknown", lang)
    symptom = getattr(device, "symptom", None)
    return f"{word}: {glossary.word('symptoms', symptom, lang)}" if symptom else word


def helpers(lang: str, now: datetime) -> dict[str, Any]:
    """Formatting functions templates use: every value a person reads goes through these."""
    return {
        "type_name": lambda kind: type_label(kind, lang),
        "label": lambda name, kind: glossary.device_label(name or "", kind, lang),
        "impact_text": lambda impact: impact_text(impact, lang),
        "show": lambda metric, value: _nb(_show(metric, value, lang)),
        "metric_name": lambda metric: glossary.metric_label(metric, lang),
        "unit_name": lambda code: glossary.unit(code, lang),
        "event_text": lambda e: glossary.event_sentence(e.type, e.data, lang),
        "health": lambda d: _health(d, lang),
        "ago": lambda t: glossary.ago((now - t).total_seconds(), lang) if t else "",
        "lasting": lambda t: glossary.lasting((now - t).total_seconds(), lang) if t else "",
        "num": lambda v: glossary.number(v, lang),
        "pct": lambda v: _nb(glossary.percent(v, lang)),
        "is_stale": lambda t, interval: (
            t is not None and (now - t).total_seconds() > 3 * max(interval or 60, 1)
        ),
        "type_interval": lambda kind: TYPES[kind].interval_s if kind in TYPES else 60,
    }


def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    session: Session | None = None,
    status: int = 200,
) -> HTMLResponse:
    """Render ``template`` with the language, user, CSRF token and helpers."""
    settings: ApiSetup = request.app.state.settings
    lang = language(request.cookies.get(LANG_COOKIE))
    zone = ZoneInfo(settings.api.timezone)

    def when(value: datetime | None, seconds: bool = False) -> str:
        if value is None:
            return ""
        return value.astimezone(zone).strftime("%H:%M:%S %d/%m" if seconds else "%H:%M %d/%m/%Y")

    text = TEXT[lang]
    body = ENV.get_template(template).render(
        request=request,
        prefix=PREFIX,
        lang=lang,
        t=text,
        user=session.user if session else None,
        csrf=session.csrf if session else "",
        when=when,
        **helpers(lang, datetime.now(UTC)),
        summary=lambda row: row.summary_en if lang == "en" and row.summary_en else row.summary,
        here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        **context,
    )
    return HTMLResponse(
        body,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data: https: http:; "
            "style-src 'self' 'unsafe-inline'; script-src 'self'; form-action 'self'; frame-ancestors 'none'",
        },
    )
