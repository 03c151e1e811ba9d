"""Alert texts in Vietnamese and English: device facts, summaries and the impact line."""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

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

# Values devices send in event data, as a Vietnamese reader expects them (``data_<key>_vi``).
VI_WORDS = {
    "normal": "thường",
    "priority": "ưu tiên",
    "emergency": "khẩn cấp",
    "executed": "đã phát",
    "missed": "bỏ lỡ",
    "late": "phát muộn",
}

# A name that starts with one of these already says what the device is: no type in front
# ("Switch thôn An Thọ", not "Đường truyền Switch thôn An Thọ").
SELF_NAMING = {
    "camera": ("camera", "cam "),
    "nvr": ("đầu ghi", "nvr"),
    "speaker": ("cụm loa", "loa "),
    "link": (
        "đường",
        "switch",
        "router",
        "bộ định tuyến",
        "bộ chuyển mạch",
        "modem",
        "cáp quang",
        "uplink",
        "4g",
        "kết nối",
        "mạng",
    ),
}


def vi_duration(seconds: float) -> str:
    """``10 phút``, ``2 giờ``, ``1 giờ 30 phút``, ``45 giây``."""
    total = round(seconds)
    parts = []
    for size, word in ((86400, "ngày"), (3600, "giờ"), (60, "phút"), (1, "giây")):
        if total >= size:
            parts.append(f"{total // size} {word}")
            total %= size
    return " ".join(parts) or "0 giây"


def vi_word(value: object) -> object:
    """A known English data value in Vietnamese; anything else as it is."""
    return VI_WORDS.get(value, value) if isinstance(value, str) else value


def device_label(name: str, device_type: str, type_name: str, lang: str = "vi") -> str:
    """``Camera Cổng UBND``: the type, then the name, unless the name already says what it is
    (in Vietnamese; an English reader still gets the type before a Vietnamese name)."""
    lowered = name.lower()
    words = (type_name.lower(), *(SELF_NAMING.get(device_type, ()) if lang == "vi" else ()))
    if any(lowered.startswith(word) for word in words if word):
        return name
    return f"{type_name} {name}".strip()


# Counted nouns for the impact line ("12 camera, 5 cụm loa").
IMPACT_NOUNS = {
    "camera": ("camera", "camera", "cameras"),
    "speaker": ("cụm loa", "loudspeaker", "loudspeakers"),
    "nvr": ("đầu ghi", "NVR", "NVRs"),
    "link": ("đường truyền", "link", "links"),
    "ups": ("bộ lưu điện", "UPS", "UPSes"),
    "collector": ("bộ thu thập", "collector", "collectors"),
}
IMPACT_ORDER = ("camera", "speaker", "nvr", "link", "ups")


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
        kind = self.type_vi if lang == "vi" else self.type_en
        return device_label(self.name, self.type, kind, lang)

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


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(template: str, values: Mapping[str, Any]) -> str:
    """Fill ``{placeholders}``; unknown ones stay visible instead of failing the alert."""
    try:
        return string.Formatter().vformat(template, (), _Lenient(values))
    except (ValueError, IndexError, KeyError) as exc:
        log.warning("bad summary template %r: %s", template, exc)
        return template


def impact_text(impact: Mapping[str, int], lang: str) -> str:
    """``12 camera, 5 cụm loa`` / ``12 cameras, 5 loudspeakers``."""
    parts = []
    order = [t for t in IMPACT_ORDER if t in impact] + sorted(set(impact) - set(IMPACT_ORDER))
    for device_type in order:
        count = impact[device_type]
        vi, one, many = IMPACT_NOUNS.get(device_type, (device_type, device_type, device_type))
        if lang == "vi":
            parts.append(f"{count} {vi}")
        else:
            parts.append(f"{count} {one if count == 1 else many}")
    return ", ".join(parts)


def root_cause_summaries(device: DeviceInfo, impact: Mapping[str, int]) -> tuple[str, str]:
    """The root-cause alert's summary naming the impact."""
    vi = f"{device.label('vi')} mất kết nối"
    en = f"{device.label('en')} down"
    if impact and device.type == "collector":
        # Its devices are not known to be down: nobody polls them (see reachability).
        total = sum(impact.values())
        vi += f": {total} thiết bị không được giám sát ({impact_text(impact, 'vi')})"
        en += f": {total} devices not observed ({impact_text(impact, 'en')})"
    elif impact:
        vi += f": {impact_text(impact, 'vi')} không truy cập được"
        en += f": {impact_text(impact, 'en')} unreachable"
    return vi, en
