"""SNMP device profiles are data: the shipped YAML loads, reads as the MIBs say, bad ones fail."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from collector.checks.base import Target
from collector.checks.snmp import SnmpCheck, SnmpParams
from collector.checks.snmp.profile import Profile, default_for, profiles

UPS_VALUES = {
    "1.3.6.1.2.1.33.1.2.1.0": 3,
    "1.3.6.1.2.1.33.1.2.3.0": 7,
    "1.3.6.1.2.1.33.1.2.4.0": 141,
    "1.3.6.1.2.1.33.1.4.1.0": 5,
    "1.3.6.1.2.1.33.1.4.4.1.5.1": -2,
}


def _check(device_type: str, **params: object) -> SnmpCheck:
    target = Target("dev", device_type, "21025", "127.0.0.1", 60)
    p = SnmpParams.model_validate({"community_env": "C", **params})
    return SnmpCheck(target, p, lambda name: "x")


def test_shipped_profiles_and_defaults() -> None:
    assert set(profiles()) >= {"if", "ups"}
    assert default_for("ups").name == "ups"
    assert default_for("switch").name == "if"
    assert _check("ups").profile.name == "ups"
    assert _check("ups", profile="if").profile.name == "if"


def test_ups_profile_reads_values_as_the_mib_says() -> None:
    check = _check("ups")
    sample = check._read(check.profile, 1, UPS_VALUES)
    assert sample.metrics == {
        "on_battery": True,
        "battery_status": "low",
        "battery_minutes": 7.0,
        "battery_charge_pct": 100.0,  # clamped
        "output_load_pct": 0.0,  # clamped
    }
    unknown = check._read(check.profile, 1, {"1.3.6.1.2.1.33.1.2.1.0": 9})
    assert unknown.metrics == {"battery_status": "unknown"}


def test_if_profile_rates_between_polls() -> None:
    check = _check("switch", if_index=2)
    oper, speed = "1.3.6.1.2.1.2.2.1.8.2", "1.3.6.1.2.1.31.1.1.1.15.2"
    octets_in, errors = "1.3.6.1.2.1.31.1.1.1.6.2", "1.3.6.1.2.1.2.2.1.14.2"
    first = check._read(check.profile, 2, {oper: 1, speed: 100, octets_in: 2**64 - 1000, errors: 5})
    assert first.metrics == {"up": True, "bandwidth_mbps": 100.0}
    then, counters = check._prev or (0.0, {})
    check._prev = (then - 2.0, counters)  # two seconds ago
    second = check._read(check.profile, 2, {oper: 2, octets_in: 249_000, errors: 9})
    assert second.metrics["up"] is False
    assert "util_in_pct" not in second.metrics  # no speed this time: no percent
    assert 1.99 <= float(second.metrics["errors_per_s"]) <= 2.0
    down = check._read(check.profile, 2, {})
    assert down.metrics == {"up": False}  # missing ifOperStatus reads as down


def test_a_wrapped_counter_is_a_rate_a_reset_is_not() -> None:
    check = _check("switch")
    octets_in, speed = "1.3.6.1.2.1.31.1.1.1.6.1", "1.3.6.1.2.1.31.1.1.1.15.1"
    check._read(check.profile, 1, {octets_in: 2**64 - 500_000, speed: 8})
    then, counters = check._prev or (0.0, {})
    check._prev = (then - 1.0, counters)
    wrapped = check._read(check.profile, 1, {octets_in: 500_000, speed: 8})
    assert 99.0 <= float(wrapped.metrics["util_in_pct"]) <= 100.0  # 1 MB in ~1 s of 8 Mbit/s
    check._prev = (check._prev[0] - 1.0, {"util_in_pct": 2**63}) if check._prev else None
    reset = check._read(check.profile, 1, {octets_in: 10, speed: 8})
    assert "util_in_pct" not in reset.metrics


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        ({"name": "pdu", "values": {"load": {"oid": "ifInOctets"}}}, "not numeric"),
        ({"name": "pdu", "values": {"load": {"oid": "1.3.{port}"}}}, "only {if_index}"),
        ({"name": "pdu", "values": {"a": {"oid": "1.3", "equals": 1, "labels": {}}}}, "exclude"),
        ({"name": "pdu", "values": {"a": {"oid": "1.3", "scale": 2}}}, "Extra inputs"),
        ({"name": "pdu", "rates": {"a": {"counter": "1.3", "bits": 16}}}, "bits"),
    ],
)
def test_a_bad_profile_says_why(doc: dict[str, object], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        Profile.model_validate(doc)


def test_an_unknown_profile_name_lists_the_known() -> None:
    with pytest.raises(ValidationError, match="known: if, ups"):
        SnmpParams.model_validate({"community_env": "C", "profile": "pdu-apc"})
