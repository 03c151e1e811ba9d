"""Rendering: the Jinja2 environment, filters (local times, device type names) and ``page()``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.console.i18n import TEXT, language
from api.console.session import LANG_COOKIE, PREFIX, Session
from api.settings import ApiSettings
from devices.catalogue import TYPES

TEMPLATES = Path(__file__).parent / "templates"
ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def type_name(device_type: str | None, lang: str) -> str:
    """The catalogue's name of a device type in ``lang``."""
    known = TYPES.get(device_type or "")
    if known is None:
        return device_type or ""
    return known.en if lang == "en" else known.vi


def impact_text(impact: Any, lang: str) -> str:
    """``9 camera, 2 cụm loa truyền thanh không truy cập được``."""
    if not isinstance(impact, dict) or not impact:
        return ""
    parts = [
        f"{count} {type_name(kind, lang).lower() if lang == 'vi' else type_name(kind, lang)}"
        for kind, count in sorted(impact.items(), key=lambda kv: -int(kv[1] or 0))
    ]
    return f"{', '.join(parts)} {TEXT[lang]['unreachable']}"


def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    session: Session | None = None,
    status: int = 200,
) -> HTMLResponse:
    """Render ``template`` with the language, user, CSRF token and helpers."""
    settings: ApiSettings = request.app.state.settings
    lang = language(request.cookies.get(LANG_COOKIE))
    zone = ZoneInfo(settings.api_timezone)

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
        type_name=lambda kind: type_name(kind, lang),
        impact_text=lambda impact: impact_text(impact, lang),
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
