"""Alert texts in Vietnamese and English: device facts, summaries and the impact line."""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

from ioc import glossary

log = logging.getLogger(__name__)

DEVICE_INFO_SQL = """
SELECT d.id, d.name, d.type, d.commune_code, d.site_id, coalesce(s.name, ''), c.name,
       t.name_vi, t.name_en
FROM devices d
JOIN communes c ON c.code = d.commune_code
JOIN device_types t ON t.type = d.type
LEFT JOIN sites s ON s.id = d.site_id
WHERE d.id = ANY(%(ids)s)
"""


def vi_duration(seconds: float) -> str:
    """``10 phút``, ``2 giờ``, ``1 giờ 30 phút``, ``45 giây`` (the glossary's duration words)."""
    return glossary.duration(seconds, "vi", parts=4)


def vi_word(value: object) -> object:
    """A known data value (priority, broadcast outcome) in Vietnamese; anything else as it is."""
    if not isinstance(value, str):
        return value
    for field in ("priority", "outcome"):
        shown = glossary.enum_word(field, value, "vi")
        if shown != value:
            return shown
    return value


def device_label(name: str, device_type: str, lang: str = "vi") -> str:
    """``Camera Cổng UBND``: the type, then the name, unless the name already says what it is."""
    return glossary.device_label(name, device_type, lang)


@dataclass(frozen=True)
class DeviceInfo:
    """What texts and labels need to know about a device."""

    id: str
    name: str
    type: str
    commune_code: str
    site_id: str | None
    site_name: str
    commune_name: str
    type_vi: str
    type_en: str

    def labels(self) -> dict[str, str]:
        """The device's part of an alert's labels."""
        return {
            "commune": self.commune_code,
            "site": self.site_id or "",
            "device": self.id,
            "type": self.type,
        }

    def label(self, lang: str) -> str:
        """``Camera Cổng UBND``: the type, then the name, unless the name already says it."""
        return glossary.device_label(self.name, self.type, lang)

    def template_vars(self) -> dict[str, str]:
        """Placeholders for summaries."""
        return {
            "device": self.id,
            "device_name": self.name,
            "device_label": self.label("vi"),
            "device_label_en": self.label("en"),
            "site": self.site_id or "",
            "site_name": self.site_name or self.commune_name,
            "commune": self.commune_code,
            "commune_name": self.commune_name,
            "type": self.type,
            "type_vi": self.type_vi,
            "type_en": self.type_en,
        }


def load_devices(conn: psycopg.Connection, ids: Iterable[str]) -> dict[str, DeviceInfo]:
    """Device facts for the given ids (one query)."""
    rows = conn.execute(DEVICE_INFO_SQL, {"ids": sorted(set(ids))}).fetchall()
    return {row[0]: DeviceInfo(*row) for row in rows}


# The placeholders every rule's summary may use (``DeviceInfo.template_vars``).
DEVICE_PLACEHOLDERS = frozenset(
    {
        "device",
        "device_name",
        "device_label",
        "device_label_en",
        "site",
        "site_name",
        "commune",
        "commune_name",
        "type",
        "type_vi",
        "type_en",
    }
)


def template_fields(template: str) -> list[str]:
    """The names of the ``{placeholders}`` in a template (``{a.b}``, ``{a[0]}`` give ``a``)."""
    names = []
    for _, field, _, _ in string.Formatter().parse(template):
        if field is not None:
            names.append(re.split(r"[.\[]", field, maxsplit=1)[0])
    return names


@dataclass(frozen=True)
class PerLanguage:
    """A placeholder written differently per language: ``409,6`` in vi, ``409.6`` in en."""

    vi: str
    en: str


def number_in(value: float | None, lang: str) -> str:
    """A number for a ``lang`` summary: ``1.234,5`` in vi, ``1,234.5`` in en (``?`` unknown)."""
    return "?" if value is None else glossary.number(value, lang)


def number_text(value: float | None) -> PerLanguage:
    """A number for a summary in both languages (see :func:`number_in`)."""
    return PerLanguage(number_in(value, "vi"), number_in(value, "en"))


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(template: str, values: Mapping[str, Any], lang: str = "vi") -> str:
    """Fill ``{placeholders}`` for a ``lang`` summary; unknown ones stay visible."""
    chosen = {k: (getattr(v, lang) if isinstance(v, PerLanguage) else v) for k, v in values.items()}
    try:
        return string.Formatter().vformat(template, (), _Lenient(chosen))
    except (ValueError, IndexError, KeyError) as exc:
        log.warning("bad summary template %r: %s", template, exc)
        return template


def impact_text(impact: Mapping[str, int], lang: str) -> str:
    """``12 camera, 5 cụm loa`` / ``12 cameras, 5 loudspeakers``."""
    return glossary.impact_text(impact, lang)


def root_cause_summaries(device: DeviceInfo, impact: Mapping[str, int]) -> tuple[str, str]:
    """The root-cause alert's summary naming the impact."""
    vi = f"{device.label('vi')} {glossary.state('offline', 'vi').lower()}"
    en = f"{device.label('en')} {glossary.state('offline', 'en').lower()}"
    if impact and device.type == "collector":
        # Its devices are not known to be down: nobody polls them (see reachability).
        total = sum(impact.values())
        vi += f": {total} thiết bị {glossary.state('unobserved', 'vi').lower()} "
        vi += f"({impact_text(impact, 'vi')})"
        en += f": {total} devices {glossary.state('unobserved', 'en').lower()} "
        en += f"({impact_text(impact, 'en')})"
    elif impact:
        vi += f": {impact_text(impact, 'vi')} {glossary.state('unreachable', 'vi').lower()}"
        en += f": {impact_text(impact, 'en')} {glossary.state('unreachable', 'en').lower()}"
    return vi, en
