"""The snmp check against Debian's snmpd: IF-MIB, v3, UPS-MIB, reboots and bad agents."""

from __future__ import annotations

import asyncio

import pytest

from collector.checks.base import CheckError, Sample, Target
from collector.checks.snmp import SnmpCheck, SnmpParams
from tests.collector.conftest import COMMUNITY, V3_AUTH, V3_PRIV, V3_USER, Snmpd, start_snmpd

SECRETS = {
    "SNMP_COMMUNITY": COMMUNITY,
    "V3_AUTH": V3_AUTH,
    "V3_PRIV": V3_PRIV,
    "WRONG": "not-the-community",
}


def _check(device_type: str, **params: object) -> SnmpCheck:
    target = Target("dev", device_type, "21025", "127.0.0.1", 60)
    return SnmpCheck(target, SnmpParams.model_validate(params), SECRETS.__getitem__)


def _polls(check: SnmpCheck, n: int, gap_s: float = 0.3) -> list[Sample]:
    async def run() -> list[Sample]:
        out = []
        try:
            for i in range(n):
                if i:
                    await asyncio.sleep(gap_s)
                out.append(await check.poll())
        finally:
            await check.close()
        return out

    return asyncio.run(run())


def test_if_mib_link_metrics(snmpd: Snmpd) -> None:
    first, second = _polls(_check("link", port=snmpd.port, community_env="SNMP_COMMUNITY"), 2)
    assert first.metrics["up"] is True  # lo is up
    assert float(first.metrics["bandwidth_mbps"]) > 0  # ifHighSpeed of lo
    assert "util_in_pct" not in first.metrics  # a rate needs two counter readings
    for name in ("util_in_pct", "util_out_pct", "errors_per_s"):
        assert 0 <= float(second.metrics[name]) <= 100, name
    assert float(second.metrics["uptime_s"]) >= float(first.metrics["uptime_s"])


def test_v3_auth_priv(snmpd: Snmpd) -> None:
    (sample,) = _polls(
        _check(
            "link",
            port=snmpd.port,
            version="3",
            user=V3_USER,
            auth_key_env="V3_AUTH",
            priv_key_env="V3_PRIV",
        ),
        1,
    )
    assert sample.metrics["up"] is True


def test_ups_mib(snmpd: Snmpd) -> None:
    (sample,) = _polls(_check("ups", port=snmpd.port, community_env="SNMP_COMMUNITY"), 1)
    assert sample.metrics["on_battery"] is True
    assert sample.metrics["battery_status"] == "low"
    assert sample.metrics["battery_minutes"] == 7.0
    assert sample.metrics["battery_charge_pct"] == 41.0
    assert sample.metrics["output_load_pct"] == 63.0


def test_wrong_community_and_silent_port_are_check_errors(snmpd: Snmpd) -> None:
    for params in (
        {"port": snmpd.port, "community_env": "WRONG"},
        {"port": 9, "community_env": "SNMP_COMMUNITY"},
    ):
        check = _check("link", timeout_s=0.3, retries=0, **params)
        with pytest.raises(CheckError) as err:
            _polls(check, 1)
        assert err.value.kind == "timeout"
        assert COMMUNITY not in err.value.reason and "not-the-community" not in err.value.reason


def test_missing_secret_is_a_config_error() -> None:
    check = SnmpCheck(
        Target("dev", "link", "21025", "127.0.0.1", 60),
        SnmpParams(port=9, community_env="NOT_SET_ANYWHERE"),
        lambda name: (_ for _ in ()).throw(
            CheckError(f"secret {name!r} is not set", kind="config")
        ),
    )
    with pytest.raises(CheckError) as err:
        _polls(check, 1)
    assert err.value.kind == "config"


def test_agent_restart_is_a_reboot_event() -> None:
    agent = start_snmpd()
    check = _check("link", port=agent.port, community_env="SNMP_COMMUNITY", timeout_s=0.5)

    async def run() -> list[Sample]:
        try:
            await asyncio.sleep(1.2)  # some uptime to go back from
            before = await check.poll()
            agent.proc.terminate()
            agent.proc.wait(timeout=10)
            restarted = await asyncio.to_thread(start_snmpd, agent.port)
            try:
                after = await check.poll()
            finally:
                restarted.proc.terminate()
                restarted.proc.wait(timeout=10)
            return [before, after]
        finally:
            await check.close()

    before, after = asyncio.run(run())
    assert float(after.metrics["uptime_s"]) < float(before.metrics["uptime_s"])
    assert [e.type for e in after.events] == ["reboot"]
    assert "util_in_pct" not in after.metrics  # counters restarted with the agent
