"""Inventory files: the issue's minimum example, and errors with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.checks.ping import PingParams
from collector.checks.snmp import SnmpParams
from collector.inventory import load_inventory, parse_inventory
from devices.registry import RegistryError

MINIMUM = """
devices:
  - {id: col-1, type: collector, commune: "21025", name: "Bộ thu thập UBND"}
  - {id: ts-uplink, type: link, commune: "21025", site: ts-ubnd, address: 127.0.0.1,
     collector: col-1,
     checks: {ping: {}, snmp: {port: 10161, community_env: SNMP_COMMUNITY, if_index: 1}}}
  - {id: ts-cam-01, type: camera, commune: "21025", site: ts-ubnd, address: 127.0.0.2,
     parent: ts-uplink, checks: {ping: {}}}
"""


def test_issue_minimum_inventory_plans_checks() -> None:
    inv = parse_inventory(MINIMUM, "inv.yaml")
    watched = {w.target.device_id: w for w in inv.watched_by("col-1")}
    assert set(watched) == {"ts-uplink", "ts-cam-01"}
    uplink = watched["ts-uplink"]
    assert uplink.target.address == "127.0.0.1"
    assert uplink.target.interval_s == 60  # the link type's expected interval
    names = [c.name for c in uplink.checks]
    assert names == ["ping", "snmp"]
    snmp = uplink.checks[1].params
    assert isinstance(snmp, SnmpParams) and snmp.port == 10161 and snmp.if_index == 1
    assert isinstance(watched["ts-cam-01"].checks[0].params, PingParams)
    # The registry part imports with `ioc devices import` (name defaults to the id).
    plain = inv.registry()
    assert {d.id: d.name for d in plain.devices}["ts-cam-01"] == "ts-cam-01"
    assert {d.id: d.collector for d in plain.devices}["ts-uplink"] == "col-1"


def test_other_collectors_devices_are_not_watched() -> None:
    text = (
        MINIMUM
        + """  - {id: col-2, type: collector, commune: "21025"}
  - {id: far-cam, type: camera, commune: "21025", address: 127.0.0.9, collector: col-2,
     checks: {ping: {}}}
"""
    )
    inv = parse_inventory(text, "inv.yaml")
    assert "far-cam" not in {w.target.device_id for w in inv.watched_by("col-1")}
    assert {w.target.device_id for w in inv.watched_by("col-2")} >= {"far-cam"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # unknown check name, on the device's line
        (
            '  - {id: a, type: camera, commune: "21025", address: 127.0.0.2, checks: {pong: {}}}\n',
            "inv.yaml:3: devices[1].checks: Value error, unknown check(s) pong",
        ),
        # a check parameter of the wrong type
        (
            '  - {id: a, type: camera, commune: "21025", address: 127.0.0.2,\n'
            "     checks: {ping: {count: many}}}\n",
            "inv.yaml:3: devices[1].checks.ping.count: Input should be a valid integer",
        ),
        # v2c without a community name
        (
            '  - {id: a, type: link, commune: "21025", address: 127.0.0.2, checks: {snmp: {}}}\n',
            "inv.yaml:3: devices[1].checks.snmp: Value error, SNMP v2c needs community_env",
        ),
        # checks without an address
        (
            '  - {id: a, type: camera, commune: "21025", checks: {ping: {}}}\n',
            "inv.yaml:3: devices[1].address: a device with checks needs an address",
        ),
        # a secret given by value
        (
            '  - {id: a, type: link, commune: "21025", address: 127.0.0.2,\n'
            "     checks: {snmp: {community: public}}}\n",
            "inv.yaml:3: devices[1].checks: Value error, checks.snmp.community: secrets go by name",
        ),
        # watched by a device that is not a collector
        (
            '  - {id: a, type: camera, commune: "21025", address: 127.0.0.2, collector: b,\n'
            '     checks: {ping: {}}}\n  - {id: b, type: link, commune: "21025"}\n',
            "inv.yaml:3: devices[1].collector: 'b' is a link, not a collector",
        ),
        # an unknown device field
        (
            '  - {id: a, type: camera, commune: "21025", adress: 127.0.0.2}\n',
            "inv.yaml:3: devices[1].adress: Extra inputs are not permitted",
        ),
    ],
)
def test_invalid_inventory_names_file_line_and_field(body: str, expected: str) -> None:
    text = 'devices:\n  - {id: col-1, type: collector, commune: "21025"}\n' + body
    with pytest.raises(RegistryError) as err:
        parse_inventory(text, "inv.yaml")
    assert any(e.startswith(expected) for e in err.value.errors), err.value.errors


def test_every_error_is_reported_and_nothing_is_returned(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(
        "devices:\n"
        '  - {id: ok, type: camera, commune: "21025", address: 127.0.0.2, checks: {ping: {}}}\n'
        '  - {id: b1, type: camera, commune: "21025", address: 127.0.0.3,\n'
        "     checks: {ping: {count: 0}}}\n"
        '  - {id: b2, type: link, commune: "21025", address: 127.0.0.4,\n'
        "     checks: {snmp: {version: '3'}}}\n"
    )
    with pytest.raises(RegistryError) as err:
        load_inventory(path)
    text = "\n".join(err.value.errors)
    assert f"{path}:3: devices[1].checks.ping.count" in text
    assert f"{path}:5: devices[2].checks.snmp" in text and "needs user" in text


def test_invalid_yaml_has_a_line() -> None:
    with pytest.raises(RegistryError) as err:
        parse_inventory("devices:\n  - {id: a, type: camera\n  - x", "inv.yaml")
    assert err.value.errors[0].startswith("inv.yaml:3: invalid YAML")
