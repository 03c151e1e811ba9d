"""The one bilingual glossary (``glossary.yaml``) and the formatting of values for people.

Every word an operator reads comes from here: device states and health, types, metric labels
and units, enum values, event sentences, place words. Values are shown in words and units
("mất hình", "409,6 kbit/s", "99,0 %", "5 ngày 8 giờ"), never as field names or 1.0/0.0.
``lang`` is "vi" (default) or "en"; anything else reads as Vietnamese.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import yaml


@cache
def data() -> dict[str, Any]:
    """The parsed glossary (read once, on first use)."""
    text = resources.files("ioc").joinpath("glossary.yaml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def _lang(lang: str | None) -> str:
    return "en" if lang == "en" else "vi"


def word(section: str, key: str, lang: str | None = "vi") -> str:
    """``word("states", "offline", "vi")``: the Vietnamese word; an unknown key as it is."""
    entry = data()[section].get(key)
    return str(entry[_lang(lang)]) if entry else key


def words(section: str, lang: str | None = "vi") -> dict[str, str]:
    """A whole section in one language (for templates: ``t.states.offline``)."""
    return {key: str(entry[_lang(lang)]) for key, entry in data()[section].items()}


def state(key: str, lang: str | None = "vi") -> str:
    """A reachability state in words (``online``, ``offline``, ``unreachable`` …)."""
    return word("states", key, lang)


def health(key: str, lang: str | None = "vi") -> str:
    """A health state in words (``healthy``, ``degraded``, ``failed``, ``unknown``)."""
    return word("health", key, lang)


def type_label(device_type: str | None, lang: str | None = "vi") -> str:
    """The name of a device type; an unknown type as given."""
    entry = data()["types"].get(device_type or "")
    return str(entry[_lang(lang)]) if entry else device_type or ""


def counted(device_type: str, count: int, lang: str | None = "vi") -> str:
    """``12 camera`` / ``12 cameras``, ``1 loudspeaker``."""
    entry = data()["types"].get(device_type)
    if entry is None:
        return f"{count} {device_type}"
    if _lang(lang) == "vi":
        return f"{count} {entry['count_vi']}"
    return f"{count} {entry['one_en'] if count == 1 else entry['many_en']}"


def device_label(name: str, device_type: str | None, lang: str | None = "vi") -> str:
    """``Camera Cổng UBND``: the type, then the name, unless the name already says what it is."""
    entry = data()["types"].get(device_type or "")
    if entry is None:
        return name
    kind = str(entry[_lang(lang)])
    lowered = name.lower()
    said = (kind.lower(), str(entry["vi"]).lower(), str(entry["en"]).lower(), *entry["self_naming"])
    if any(lowered.startswith(str(w).lower()) for w in said if w):
        return name
    return f"{kind} {name}".strip()


def metric_label(metric: str, lang: str | None = "vi") -> str:
    """A metric's name for people (never its field name when the glossary knows it)."""
    return word("metrics", metric, lang)


def unit(code: str, lang: str | None = "vi") -> str:
    """``kbps`` -> ``kbit/s``."""
    return word("units", code, lang) if code else ""


def number(value: float, lang: str | None = "vi", decimals: int | None = None) -> str:
    """``409,6`` (vi) / ``409.6`` (en); thousands grouped (``1.234``); whole numbers bare."""
    if not math.isfinite(value):
        return "—"
    if decimals is None:
        decimals = 0 if float(value).is_integer() else 1 if abs(value) >= 10 else 2
    text = f"{value:,.{decimals}f}"
    if decimals and decimals > 1 and "." in text:
        text = text.rstrip("0").rstrip(".")
    if _lang(lang) == "vi":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def percent(value: float | None, lang: str | None = "vi", decimals: int = 1) -> str:
    """``99,0 %``; ``—`` when there is no value."""
    return "—" if value is None else f"{number(value, lang, decimals)} %"


def quantity(value: float, unit_code: str, lang: str | None = "vi") -> str:
    """``409,6 kbit/s``, ``5 ngày 8 giờ`` for seconds."""
    if unit_code == "s":
        return duration(value, lang)
    shown = unit(unit_code, lang)
    return f"{number(value, lang)} {shown}".strip()


def duration(seconds: float, lang: str | None = "vi", parts: int = 2) -> str:
    """``5 ngày 8 giờ`` / ``5 days 8 hours``: the ``parts`` largest units, rounded down."""
    total = max(0, round(seconds))
    out: list[str] = []
    for size, vi, one, many in data()["durations"]:
        if total >= size and len(out) < parts:
            n = total // size
            out.append(f"{n} {vi}" if _lang(lang) == "vi" else f"{n} {one if n == 1 else many}")
            total %= size
        elif out:
            break  # "1 giờ 5 giây" reads oddly: stop at the first empty unit
    if out:
        return " ".join(out)
    return "0 giây" if _lang(lang) == "vi" else "0 seconds"


def yes_no(flag: bool, lang: str | None = "vi") -> str:
    """``Có`` / ``Không``."""
    return word("words", "yes" if flag else "no", lang)


def flag(metric: str, value: float, lang: str | None = "vi") -> str:
    """A boolean metric's value as its word (``mất hình``), else Có/Không."""
    pair = data()["flags"].get(metric)
    on = value >= 0.5
    if pair is None:
        return yes_no(on, lang)
    return str(pair[1 if on else 0][_lang(lang)])


def enum_word(field: str, value: str, lang: str | None = "vi") -> str:
    """An enum value or event-data value in words; unknown ones as they are."""
    entry = data()["enums"].get(field, {}).get(value)
    return str(entry[_lang(lang)]) if entry else value


def metric_value(
    metric: str,
    value: float,
    unit_code: str,
    lang: str | None = "vi",
    *,
    kind: str = "gauge",
    enum_values: Sequence[str] = (),
) -> str:
    """A stored metric value for people: words for flags and enums, number and unit else."""
    if kind == "bool":
        return flag(metric, value, lang)
    if kind == "enum":
        index = int(value)
        if 0 <= index < len(enum_values):
            return enum_word(metric, enum_values[index], lang)
        return word("states", "unknown", lang)
    return quantity(value, unit_code, lang)


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def event_sentence(
    event_type: str, data_: Mapping[str, Any] | None, lang: str | None = "vi"
) -> str:
    """``Mất hình (kênh 1)``; an unknown event type reads as its name with spaces."""
    entry = data()["events"].get(event_type)
    values = _Blank({k: v for k, v in (data_ or {}).items() if isinstance(v, str | int | float)})
    vi = _lang(lang) == "vi"
    if "channel" in values:
        values["channel_part"] = (
            f" (kênh {values['channel']})" if vi else f" (channel {values['channel']})"
        )
    if "disk" in values:
        values["disk_part"] = f" (ổ {values['disk']})" if vi else f" (disk {values['disk']})"
    for key in ("outcome", "priority"):
        if isinstance(values.get(key), str):
            values[key] = enum_word(key, values[key], lang)
    if entry is None:
        return event_type.replace("_", " ").capitalize()
    return string.Formatter().vformat(str(entry[_lang(lang)]), (), values)


def impact_text(impact: Mapping[str, Any], lang: str | None = "vi") -> str:
    """``9 camera, 2 cụm loa`` (most first); only whole counts are shown."""
    whole = [(k, v) for k, v in impact.items() if isinstance(v, int) and not isinstance(v, bool)]
    order = list(data()["types"])  # ties in the glossary's order: camera, speaker, nvr, link …
    whole.sort(key=lambda kv: (-kv[1], order.index(kv[0]) if kv[0] in order else len(order)))
    return ", ".join(counted(kind, count, lang) for kind, count in whole)


def _coarse(seconds: float) -> float:
    """Whole minutes once past a minute: "đã 25 phút", not "đã 25 phút 7 giây"."""
    return seconds if seconds < 60 else seconds // 60 * 60


def ago(seconds: float, lang: str | None = "vi") -> str:
    """``25 phút trước``."""
    return word("words", "ago", lang).format(d=duration(_coarse(seconds), lang))


def lasting(seconds: float, lang: str | None = "vi") -> str:
    """``đã 25 phút`` / ``for 25 minutes``."""
    return word("words", "lasting", lang).format(d=duration(_coarse(seconds), lang))
