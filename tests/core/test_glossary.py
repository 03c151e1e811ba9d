"""One word per meaning: the glossary is the only place a state or health label is written,
the old synonyms are gone, every surface (console, notification/Telegram text, PDF report,
Grafana board) shows the glossary's word, and no label repeats the device type."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ioc import glossary

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("ioc", "devices", "ingest", "alerts", "api", "storage", "grafana", "collector")
PRODUCT += ("simulators", "demo")
SUFFIXES = (".py", ".html", ".yaml", ".yml", ".json", ".sql")
# Words that meant the same as a glossary word somewhere before it existed.
RETIRED = (
    "Không tới được",
    "Điểm lắp đặt",
    "Mất kết nối do thiết bị cấp trên",
    "Chưa rõ",
    "Báo cáo trễ",
    "Bộ thu thập tại xã",
)


def _product_files(generated: bool) -> list[Path]:
    files = []
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*"):
            if path.suffix not in SUFFIXES or path.name == "glossary.yaml":
                continue
            if not generated and "dashboards" in path.parts:  # built from the glossary
                continue
            files.append(path)
    return files


def _labels() -> dict[str, str]:
    data = glossary.data()
    return {
        f"{section}.{key}": str(entry["vi"])
        for section in ("states", "health")  # symptoms also read well inside sentences
        for key, entry in data[section].items()
    }


def test_state_and_health_labels_are_written_only_in_the_glossary() -> None:
    labels = _labels()
    found = []
    for path in _product_files(generated=False):
        text = path.read_text(encoding="utf-8", errors="ignore")
        for name, word in labels.items():
            if len(word) > 3 and re.search(rf"(?<![\w]){re.escape(word)}(?![\w])", text):
                found.append(f"{path.relative_to(ROOT)}: {name} {word!r}")
    assert found == []


def test_retired_synonyms_are_gone_everywhere() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {word!r}"
        for path in _product_files(generated=True)
        for word in RETIRED
        if word in path.read_text(encoding="utf-8", errors="ignore")
    ]
    assert found == []


def test_one_word_each_for_unreachable_offline_and_site() -> None:
    vi = {k: glossary.word(s, k) for s, k in (("states", "unreachable"), ("states", "offline"))}
    vi["site"] = glossary.word("places", "site")
    assert len(set(vi.values())) == 3
    for section in ("states", "health", "places"):
        words = [str(e["vi"]) for e in glossary.data()[section].values()]
        if section == "places":
            words = [w for w in words if w not in ("Xã", "Thiết bị")]  # singular = plural
        assert len(words) == len(set(words)), section


def test_every_surface_shows_the_glossary_word() -> None:
    from alerts.notify.templates import TEXT as NOTIFY
    from api.console.i18n import TEXT as CONSOLE
    from grafana.panels import STATE_MAPPING
    from storage.official import _device_header
    from storage.render import CSV_HEADER

    for state in ("unreachable", "offline", "online", "unknown"):
        for lang in ("vi", "en"):
            assert CONSOLE[lang][f"state_{state}"] == glossary.state(state, lang)
        assert STATE_MAPPING["options"][state]["text"] == glossary.state(state)
    unreachable = glossary.state("unreachable")
    assert NOTIFY["vi"]["unreachable"] == unreachable.lower()
    assert f"{unreachable} (giờ)" in CSV_HEADER and f"{unreachable} (giờ)" in _device_header()
    assert CONSOLE["vi"]["site"] == NOTIFY["vi"]["place"] == glossary.word("places", "site")


def test_a_rendered_message_uses_the_same_words() -> None:
    """The text Telegram, e-mail and webhooks send (alerts.notify.templates.render)."""
    from datetime import UTC

    from alerts.notify.templates import render

    alert = {
        "id": 7,
        "status": "firing",
        "severity": "critical",
        "summary": "Cáp quang UBND mất kết nối",
        "device_id": "up1",
        "device_name": "Cáp quang UBND",
        "device_type": "link",
        "site_name": "UBND xã",
        "commune_name": "Xã Tịnh Sơn",
        "started_at": "2026-11-22T07:00:00+00:00",
        "annotations": {"impact": {"camera": 3, "speaker": 1}},
    }
    text = render({"kind": "firing", "alerts": [alert]}, "vi", "http://ioc.test", UTC).text
    unreachable = glossary.state("unreachable").lower()
    assert f"3 camera, 1 cụm loa {unreachable}" in text
    assert f"{glossary.word('places', 'site')}: UBND xã" in text
    assert glossary.word("severities", "critical") in text and "up1" not in text


@pytest.mark.parametrize("device_type", list(glossary.data()["types"]))
def test_a_label_never_repeats_the_type(device_type: str) -> None:
    entry = glossary.data()["types"][device_type]
    for lang in ("vi", "en"):
        kind = glossary.type_label(device_type, lang)
        for start in (kind, str(entry["vi"]), *entry["self_naming"]):
            name = f"{str(start).strip().capitalize()} Hội trường"
            label = glossary.device_label(name, device_type, lang)
            assert label == name, (lang, name, label)
        assert glossary.device_label("Hội trường", device_type, lang) == f"{kind} Hội trường"


def test_values_are_words_and_units() -> None:
    assert glossary.quantity(409.6, "kbps") == "409,6 kbit/s"
    assert glossary.percent(99.0) == "99,0 %"
    assert glossary.percent(99.0, "en") == "99.0 %"
    assert glossary.duration(5 * 86400 + 8 * 3600 + 300) == "5 ngày 8 giờ"
    assert glossary.duration(3660, "en") == "1 hour 1 minute"
    assert glossary.number(1234567.5) == "1.234.567,5"
    assert glossary.yes_no(True) == "Có" and glossary.yes_no(False) == "Không"
    assert glossary.flag("stream_up", 0.0) == "mất hình"
    assert glossary.metric_value(
        "disk_status", 2.0, "", kind="enum", enum_values=("normal", "abnormal", "smartfailed")
    ) == ("hỏng (SMART báo lỗi)")
    assert glossary.event_sentence("video_loss", {"channel": 1}) == "Mất hình (kênh 1)"
    assert glossary.lasting(25 * 60 + 7) == "đã 25 phút"
    assert glossary.impact_text({"speaker": 5, "camera": 12}, "en") == "12 cameras, 5 loudspeakers"
