"""Rules YAML: the shipped defaults load; mistakes are reported by rule and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from alerts.cli import command
from alerts.rules import load_rules, parse_rules
from alerts.rules.event import EventRule
from alerts.settings import AlertSettings
from devices.catalogue import TYPES
from ioc.durations import format_duration, parse_duration
from ioc.errors import ConfigError


def test_default_rules_cover_every_device_type() -> None:
    rules = load_rules(AlertSettings().rules_path())
    covered = {t for r in rules if r.kind == "absence" for t in r.types}
    assert covered == set(TYPES)
    kinds = {r.kind for r in rules}
    assert kinds == {"threshold", "state", "absence", "event", "flapping", "seq_gaps"}
    missed = next(r for r in rules if r.name == "broadcast_missed")
    assert isinstance(missed, EventRule) and missed.severity_by is not None
    assert missed.severity_by.values["emergency"] == "critical"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "{name: a, kind: threshold, types: [camera], metric: fps, op: '<', value: 5, colour: red}",
            "rule #1 'a', field 'colour': Extra inputs",
        ),
        (
            "{name: b, kind: threshold, types: [camera], metric: rsrp_dbm, op: '<', value: 5}",
            "rule #1 'b', field '(rule)': metric 'rsrp_dbm' is not a metric",
        ),
        (
            "{name: c, kind: threshold, types: [link], metric: loss_pct, op: '>', value: 20, clear: 30}",
            "clear must be at or below value 20",
        ),
        (
            "{name: d, kind: absence, types: [cam]}",
            "rule #1 'd', field 'types': unknown device type",
        ),
        (
            "{name: e, kind: state, types: [nvr], metric: disk_status, value: broken}",
            "value 'broken' is not a state of disk_status",
        ),
        (
            "{name: f, kind: threshold, types: [camera], metric: fps, op: '<', value: 5, for: 5 minutes}",
            "rule #1 'f', field 'for': invalid duration",
        ),
        ("{name: g, kind: magic, types: [camera]}", "rule #1 'g'"),
        ("{name: Bad-Name, kind: absence, types: [camera]}", "field 'name'"),
        (
            "{name: h, kind: event, types: [camera], event: broadcast}",
            "not an event of device type",
        ),
    ],
)
def test_rule_errors_name_rule_and_field(body: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules(f"rules:\n  - {body}\n", "test.yaml")
    assert expected in str(info.value)
    assert "test.yaml" in str(info.value)


def test_duplicate_and_reserved_names_rejected() -> None:
    rule = "{name: x, kind: absence, types: [camera]}"
    with pytest.raises(ConfigError, match="used twice"):
        parse_rules(f"rules:\n  - {rule}\n  - {rule}\n")
    with pytest.raises(ConfigError, match="reserved"):
        parse_rules("rules:\n  - {name: pipeline_down, kind: absence, types: [camera]}\n")


def test_durations() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration(45) == timedelta(seconds=45)
    assert format_duration(timedelta(minutes=90)) == "1h30m"
    for bad in ("5 minutes", "", "m5", -1, True):
        with pytest.raises(ValueError):
            parse_duration(bad)


@pytest.mark.parametrize(
    "body",
    [
        "{name: a, kind: flapping, types: [camera], window: 10m, for: 1m}",
        "{name: b, kind: event, types: [camera], event: tamper, resolve_after: 1h, for: 1m}",
        "{name: c, kind: seq_gaps, types: [camera], window: 10m, for: 1m}",
    ],
)
def test_for_parses_next_to_a_kind_s_own_duration(body: str) -> None:
    (rule,) = parse_rules(f"rules:\n  - {body}")
    assert rule.for_ == timedelta(minutes=1)


def test_cli_check_rules(tmp_path: Path) -> None:
    good = tmp_path / "rules.yaml"
    good.write_text("rules:\n  - {name: cam_off, kind: absence, types: [camera]}\n")
    result = CliRunner().invoke(command, ["--check-rules", str(good)])
    assert result.exit_code == 0, result.output
    assert "cam_off" in result.output and "1 rule(s) OK" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {name: cam_off, kind: absence, types: [camera], k: 3}\n")
    result = CliRunner().invoke(command, ["--check-rules", str(bad)])
    assert result.exit_code != 0
    assert "field 'k'" in str(result.exception)


BAD_PLACEHOLDERS = """
rules:
  - name: cam_fps
    kind: threshold
    types: [camera]
    metric: fps
    op: "<"
    value: 5
    summary: {vi: "{device_lable}: khung hình thấp {value}", en: "{device_label_en}: {valeu}"}
  - name: tamper_zone
    kind: event
    types: [camera]
    event: tamper
    summary: {vi: "{device_label}: {data_zone}", en: "{device_label_en} {nope}"}
"""


def test_unknown_placeholders_are_rejected_with_rule_and_field() -> None:
    with pytest.raises(ConfigError) as err:
        parse_rules(BAD_PLACEHOLDERS, "rules.yaml")
    text = str(err.value)
    assert "rule #1 'cam_fps', field 'summary': summary.vi: unknown placeholder {device_lable}" in (
        text
    )
    assert "summary.en: unknown placeholder {valeu}" in text
    assert "rule #2 'tamper_zone', field 'summary': summary.en: unknown placeholder {nope}" in text
    assert "{data_zone}" not in text  # event data fields are data_<key>


def test_every_kinds_default_summary_uses_known_placeholders() -> None:
    """The declared placeholders stay in step with what the kinds and devices provide."""
    from alerts.texts import DEVICE_PLACEHOLDERS, DeviceInfo

    info = DeviceInfo("d", "n", "camera", "21025", None, "", "Tịnh Sơn", "Camera", "Camera")
    assert set(info.template_vars()) == DEVICE_PLACEHOLDERS
    for rule in parse_rules(Path("alerts/rules/default_rules.yaml").read_text(encoding="utf-8")):
        type(rule)._known_placeholders(type(rule).default_summary)
