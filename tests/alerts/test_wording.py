"""Vietnamese texts read as Vietnamese: no English words, no type repeated before a name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alerts.notify.templates import local_zone, render
from alerts.rules import load_rules
from alerts.rules.base import Condition
from alerts.settings import AlertSettings
from alerts.texts import DeviceInfo, root_cause_summaries
from alerts.texts import render as fill
from devices.catalogue import TYPES
from devices.registry import load_file

ROOT = Path(__file__).resolve().parents[2]
DEMO = load_file(ROOT / "devices" / "data" / "demo_commune.yaml")
SITES = {s.id: s.name for c in DEMO.communes for s in c.sites}
# English words seen inside Vietnamese texts (device data values, jargon, enum labels).
ENGLISH = re.compile(
    r"\b(normal|priority|emergency|executed|missed|late|tamper|seq|smartfailed|abnormal|"
    r"notonline|fiber|dedicated|idle|playing|ingest|down|offline|online|flapping)\b",
    re.IGNORECASE,
)


def _info(device_id: str) -> DeviceInfo:
    spec = next(d for d in DEMO.devices if d.id == device_id)
    kind = TYPES[spec.type]
    return DeviceInfo(spec.id, spec.name, spec.type, spec.commune, spec.site,
                      SITES.get(spec.site or "", ""), "Xã Tịnh Sơn", kind.vi, kind.en)  # fmt: skip


@pytest.mark.parametrize("device", DEMO.devices, ids=lambda d: d.id)
def test_device_labels_do_not_repeat_what_the_name_says(device: object) -> None:
    info = _info(device.id)  # type: ignore[attr-defined]
    label = info.label("vi")
    words = label.lower().split()
    assert not (len(words) > 2 and words[:2] == words[2:4]), label  # "cụm loa ... cụm loa"
    assert not label.startswith(("Cụm loa truyền thanh Cụm loa", "Đường truyền Switch",
                                 "Đường truyền Router", "Đầu ghi hình Đầu ghi",
                                 "Camera Camera", "Đường truyền Cáp quang"))  # fmt: skip
    assert "thôn Thôn" not in label
    rendered = render(
        {
            "kind": "firing",
            "alerts": [
                {
                    "id": 1,
                    "status": "firing",
                    "severity": "critical",
                    "summary": "x",
                    "device_id": info.id,
                    "device_name": info.name,
                    "device_type": info.type,
                    "started_at": "2026-11-22T07:00:00+00:00",
                }
            ],
        },
        "vi",
        "http://ioc.test",
        local_zone("Asia/Ho_Chi_Minh"),
    )
    assert f"Thiết bị: {label}\n" in rendered.text and info.id not in rendered.text


def _sample_condition(rule: object) -> Condition:
    details = {
        "event_data": {
            "priority": "emergency",
            "schedule_id": "20261122-1700",
            "result": "missed",
            "count": 12,  # collector_buffer_dropped
        },
        "threshold_value": 12.0,
    }
    return Condition("x", 3.0, True, None, details)


@pytest.mark.parametrize("rule", load_rules(AlertSettings().rules_path()), ids=lambda r: r.name)
def test_every_vietnamese_summary_is_vietnamese(rule: object) -> None:
    """Each shipped rule's summary, filled for a demo device of its type, has no English."""
    device = next((d for d in DEMO.devices if d.type in rule.types), None)  # type: ignore[attr-defined]
    if device is not None:
        info = _info(device.id)
    else:  # types the demo adds at run time (demo/edge.py: ups, collector)
        kind = TYPES[rule.types[0]]  # type: ignore[attr-defined]
        info = DeviceInfo("x-1", "Tủ mạng UBND", kind.name, "21025", "ts-ubnd", "UBND xã",
                          "Xã Tịnh Sơn", kind.vi, kind.en)  # fmt: skip
    texts = rule.texts()  # type: ignore[attr-defined]
    values = {**info.template_vars(), **rule.template_vars(_sample_condition(rule))}  # type: ignore[attr-defined]
    summary = fill(texts.vi, values)
    assert "{" not in summary, summary
    found = ENGLISH.findall(summary.replace(info.name, ""))
    assert not found, f"{rule.name}: English {found} in {summary!r}"  # type: ignore[attr-defined]


def test_missed_emergency_broadcast_priority_in_vietnamese() -> None:
    rule = next(r for r in load_rules(AlertSettings().rules_path()) if r.name == "broadcast_missed")
    info = _info("ts-an-tho-spk1")
    values = {**info.template_vars(), **rule.template_vars(_sample_condition(rule))}
    summary = fill(rule.texts().vi, values)
    assert "(mức ưu tiên: khẩn cấp)" in summary
    assert summary.startswith(f"{info.name} tại ")  # not "Cụm loa truyền thanh Cụm loa …"
    vi, en = root_cause_summaries(_info("ts-an-tho-sw"), {"camera": 9, "speaker": 2})
    assert vi == "Switch Thôn An Thọ mất kết nối: 9 camera, 2 cụm loa không truy cập được"
    assert en.startswith("Switch Thôn An Thọ offline")


@pytest.mark.parametrize("rule", load_rules(AlertSettings().rules_path()), ids=lambda r: r.name)
def test_numbers_in_summaries_are_written_as_each_language_writes_them(rule: object) -> None:
    """A value of 1234.5 reads ``1.234,5`` in a Vietnamese summary and ``1,234.5`` in English
    (counts: ``1.234`` and ``1,234``)."""
    if "value" not in rule.texts().vi + rule.texts().en or rule.kind == "state":  # type: ignore[attr-defined]
        pytest.skip("no number in this rule's summary")
    info = DeviceInfo("x-1", "Cam 1", "camera", "21025", "s", "UBND xã", "Xã A", "Camera", "Camera")
    cond = Condition("x-1", 1234.5, True, None, {"threshold_value": 12.0})
    values = {**info.template_vars(), **rule.template_vars(cond)}  # type: ignore[attr-defined]
    vi, en = fill(rule.texts().vi, values, "vi"), fill(rule.texts().en, values, "en")  # type: ignore[attr-defined]
    if "{value}" in rule.texts().vi:  # type: ignore[attr-defined]
        assert "1.234" in vi and "1234" not in vi and "1,234" not in vi, vi
    if "{value}" in rule.texts().en:  # type: ignore[attr-defined]
        assert "1,234" in en and "1234" not in en and "1.234" not in en, en
