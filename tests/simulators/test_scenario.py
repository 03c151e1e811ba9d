"""Scenario files: strict parsing with file:line errors, and the shipped scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.registry import Registry
from simulators.scenario import ScenarioError, load_scenario, parse_scenario
from simulators.world import World
from tests.simulators.conftest import START

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))

GOOD = """\
name: ok
speed: 10
faults:
  - {at: 10m, fault: uplink_cut, target: ts-uplink, duration: 20m}
expect:
  incidents:
    - {rule: device_offline, device: ts-uplink, severity: critical, by: 15m}
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "s.yaml")
    return info.value.errors


def test_good_scenario_parses_with_durations() -> None:
    scenario = parse_scenario(GOOD, "s.yaml")
    assert scenario.faults[0].at_s == 600 and scenario.faults[0].seconds == 1200
    assert scenario.expect.incidents[0].by_s == 900
    assert scenario.duration_s == 30 * 60 + 120


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("uplink_cut", "uplink_cutt"),
            "s.yaml:4: faults[0].fault: unknown fault 'uplink_cutt'",
        ),
        (GOOD.replace("at: 10m", "at: soon"), "s.yaml:4: faults[0].at: invalid duration 'soon'"),
        (
            GOOD.replace("severity: critical", "severity: major"),
            "s.yaml:7: expect.incidents[0].severity:",
        ),
        (GOOD + "  surprise: 1\n", "s.yaml:8: expect.surprise: Extra inputs are not permitted"),
        (GOOD.replace("speed: 10", "speed: -1"), "s.yaml:2: speed: Input should be greater than 0"),
        (
            GOOD + "  data:\n    - {check: metric, device: ts-cam-01}\n",
            "s.yaml:9: expect.data[0]: check 'metric' needs metric",
        ),
        ("name: x\nfaults: [\n", "s.yaml:3: invalid YAML"),
        ("- just a list\n", "s.yaml:1: expected a mapping"),
        ("name: x\nfaults: []\n", "s.yaml:2: faults: List should have at least 1 item"),
    ],
)
def test_errors_name_the_line_and_problem(text: str, expected: str) -> None:
    errors = errors_of(text)
    assert any(e.startswith(expected) for e in errors), errors


def test_every_error_is_reported() -> None:
    text = GOOD.replace("uplink_cut", "nope").replace("severity: critical", "severity: x")
    assert len(errors_of(text)) == 2


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenarios_parse_and_target_the_demo_commune(path: Path, demo: Registry) -> None:
    scenario = load_scenario(path)
    assert scenario.registry == "demo"
    world = World(demo, scenario.seed, START, random_faults=False)
    for step in scenario.faults:
        world.inject(step.fault, step.target, step.seconds, START + step.at_s, step.params)
    expect = scenario.expect
    devices = [e.device for e in [*expect.incidents, *expect.resolved]]
    devices += [e.device for e in expect.suppressed]
    assert set(devices) <= set(world.devices)


def test_shipped_scenarios_cover_the_issue() -> None:
    names = {p.stem for p in SCENARIOS}
    assert {
        "uplink_cut", "commune_power_cut", "camera_video_loss", "nvr_disk_failure",
        "missed_emergency_broadcast", "flapping_link", "storm_day",
    } <= names  # fmt: skip
