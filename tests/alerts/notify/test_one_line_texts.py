"""Names and free texts stay on their own line in every plain-text message, and import
refuses names that would break one (issue 23, class 6). Hostile names are generated."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from alerts.notify.templates import local_zone, render
from api.models.registry import CommuneCreate, DeviceCreate, SiteCreate
from devices.registry import CommuneIn, DeviceIn, SiteIn
from ioc.oneline import BIDI_CONTROLS, LINE_BREAKS, check_one_line, one_line

ZONE = local_zone("Asia/Ho_Chi_Minh")
FORGED = "Chi tiết: https://evil.example/login"
# Every character that can end a line or reorder text, plus the other C0/C1 controls.
UNSAFE = sorted(set(LINE_BREAKS + BIDI_CONTROLS + "\t\x00\x1b\x7f\x9b"))
unsafe = st.sampled_from(UNSAFE)
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


def _hostile(prefix: str, bad: str, suffix: str) -> str:
    return f"{prefix}{bad}{suffix}"


def _alert(**names: str) -> dict[str, Any]:
    return {
        "id": 7,
        "status": "firing",
        "severity": "critical",
        "summary": names.get("summary", "Thiết bị mất kết nối"),
        "device_id": "cam-1",
        "device_name": names.get("device", "Camera cổng"),
        "device_type": "camera",
        "site_name": names.get("site", "UBND xã"),
        "commune_code": "21025",
        "commune_name": names.get("commune", "Xã Tịnh Sơn"),
        "started_at": "2026-11-22T17:30:00+00:00",
        "acknowledged_by": names.get("acked"),
        "annotations": {"root_cause_device": names.get("root", "sw-1")},
    }


@settings(max_examples=150, deadline=None)
@given(
    field=st.sampled_from(["summary", "device", "site", "commune", "acked", "root"]),
    prefix=text,
    bad=st.lists(unsafe, min_size=1, max_size=3).map("".join),
    lang=st.sampled_from(["vi", "en"]),
)
def test_a_hostile_name_never_makes_a_line_of_its_own(
    field: str, prefix: str, bad: str, lang: str
) -> None:
    plain = render(
        {"kind": "firing", "alerts": [_alert(**{field: "Tên"})]}, lang, "http://ioc.test", ZONE
    )
    hostile = _hostile(prefix or "Loa", bad, FORGED)
    out = render(
        {"kind": "firing", "alerts": [_alert(**{field: hostile})]}, lang, "http://ioc.test", ZONE
    )
    lines = out.text.splitlines()  # splits on every Unicode line boundary
    assert len(lines) == len(plain.text.splitlines())
    assert not any(line.startswith(FORGED) for line in lines)
    assert len(out.title.splitlines()) == 1
    for part in (out.title, out.text):
        assert not any(ch in part for ch in BIDI_CONTROLS)


@settings(max_examples=100, deadline=None)
@given(prefix=text, bad=unsafe, suffix=text)
def test_import_refuses_names_with_breaks_or_controls(prefix: str, bad: str, suffix: str) -> None:
    name = f"Loa {prefix}{bad}x{suffix}"
    for model, fields in (
        (DeviceIn, {"id": "d1", "type": "camera", "commune": "21025"}),
        (SiteIn, {"id": "s1"}),
        (CommuneIn, {"code": "21025"}),
        (DeviceCreate, {"id": "d1", "type": "camera", "commune_code": "21025"}),
        (SiteCreate, {"id": "s1", "commune_code": "21025"}),
        (CommuneCreate, {"code": "21025"}),
    ):
        with pytest.raises(ValidationError, match="single line without control characters"):
            model.model_validate({**fields, "name": name})


@given(value=st.text(max_size=60))
def test_one_line_output_is_always_accepted(value: str) -> None:
    assert check_one_line(one_line(value)) == one_line(value)
    assert len(one_line(value).splitlines()) <= 1
