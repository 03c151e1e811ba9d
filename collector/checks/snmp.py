"""``snmp``: v2c or v3 GETs of numeric OIDs (pysnmp 7 fetches MIBs by name from the network).

Profiles: ``if`` (IF-MIB for one interface: ``up``, ``util_in_pct``/``util_out_pct`` from
64-bit octet deltas and ``ifHighSpeed``, ``errors_per_s``; ``sysUpTime`` going back is a
reboot) and ``ups`` (UPS-MIB, RFC 1628: on battery, minutes and charge remaining, load).
The default profile follows the device type: ``ups`` for UPSes, ``if`` otherwise.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from collector.checks.base import Check, CheckError, CheckParams, EventOut, Sample

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"  # TimeTicks, 1/100 s
IF_OPER = "1.3.6.1.2.1.2.2.1.8"
IF_IN_ERRORS = "1.3.6.1.2.1.2.2.1.14"
IF_HC_IN = "1.3.6.1.2.1.31.1.1.1.6"
IF_HC_OUT = "1.3.6.1.2.1.31.1.1.1.10"
IF_HIGH_SPEED = "1.3.6.1.2.1.31.1.1.1.15"  # Mbit/s
UPS_BATTERY_STATUS = "1.3.6.1.2.1.33.1.2.1.0"  # 1 unknown 2 normal 3 low 4 depleted
UPS_MINUTES = "1.3.6.1.2.1.33.1.2.3.0"
UPS_CHARGE = "1.3.6.1.2.1.33.1.2.4.0"
UPS_OUTPUT_SOURCE = "1.3.6.1.2.1.33.1.4.1.0"  # 3 normal, 5 battery
UPS_OUTPUT_LOAD = "1.3.6.1.2.1.33.1.4.4.1.5.1"  # % of rated load, output line 1
BATTERY_STATUS = {1: "unknown", 2: "normal", 3: "low", 4: "depleted"}
COUNTER64 = 2**64

AUTH = {
    "md5": "usmHMACMD5AuthProtocol",
    "sha": "usmHMACSHAAuthProtocol",
    "sha256": "usmHMAC192SHA256AuthProtocol",
    "sha512": "usmHMAC384SHA512AuthProtocol",
}
PRIV = {
    "des": "usmDESPrivProtocol",
    "aes": "usmAesCfb128Protocol",
    "aes256": "usmAesCfb256Protocol",
}


class SnmpParams(CheckParams):
    """Where and how to ask; secrets by the name of their environment variable."""

    version: Literal["2c", "3"] = "2c"
    port: int = Field(161, ge=1, le=65535)
    profile: Literal["if", "ups"] | None = None
    if_index: int = Field(1, ge=1)
    community_env: str | None = None
    user: str | None = None
    auth_protocol: Literal["md5", "sha", "sha256", "sha512"] = "sha"
    auth_key_env: str | None = None
    priv_protocol: Literal["des", "aes", "aes256"] = "aes"
    priv_key_env: str | None = None
    timeout_s: float = Field(2.0, gt=0, le=30)
    retries: int = Field(1, ge=0, le=5)

    @model_validator(mode="after")
    def _credentials(self) -> SnmpParams:
        if self.version == "2c" and not self.community_env:
            raise ValueError("SNMP v2c needs community_env (the name of the secret)")
        if self.version == "3" and not self.user:
            raise ValueError("SNMP v3 needs user (and auth_key_env / priv_key_env)")
        if self.priv_key_env and not self.auth_key_env:
            raise ValueError("SNMP v3 privacy needs authentication too (auth_key_env)")
        return self


class SnmpCheck(Check):
    """IF-MIB or UPS-MIB over SNMP."""

    name: ClassVar[str] = "snmp"
    Params: ClassVar[type[CheckParams]] = SnmpParams

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prev: tuple[float, dict[str, int]] | None = None  # (monotonic, counters)
        self._uptime: int | None = None

    @property
    def profile(self) -> str:
        p = self.params
        assert isinstance(p, SnmpParams)
        return p.profile or ("ups" if self.target.type == "ups" else "if")

    async def poll(self) -> Sample:
        if self.profile == "ups":
            values = await self._get(
                [
                    SYS_UPTIME,
                    UPS_BATTERY_STATUS,
                    UPS_MINUTES,
                    UPS_CHARGE,
                    UPS_OUTPUT_SOURCE,
                    UPS_OUTPUT_LOAD,
                ]
            )
            rebooted = self._rebooted(values.get(SYS_UPTIME))
            sample = ups_sample(values)
        else:
            i = self.params.if_index  # type: ignore[attr-defined]
            values = await self._get(
                [
                    SYS_UPTIME,
                    f"{IF_OPER}.{i}",
                    f"{IF_IN_ERRORS}.{i}",
                    f"{IF_HC_IN}.{i}",
                    f"{IF_HC_OUT}.{i}",
                    f"{IF_HIGH_SPEED}.{i}",
                ]
            )
            rebooted = self._rebooted(values.get(SYS_UPTIME))
            sample = self._if_sample(values, i)
        if SYS_UPTIME in values:
            sample.metrics["uptime_s"] = values[SYS_UPTIME] / 100
        if rebooted:
            sample.events.append(EventOut("reboot", "info", {"uptime_s": values[SYS_UPTIME] / 100}))
        return sample

    def _rebooted(self, ticks: int | None) -> bool:
        """sysUpTime went back: the device restarted (and so did its counters)."""
        if ticks is None:
            return False
        rebooted = self._uptime is not None and ticks < self._uptime
        if rebooted:
            self._prev = None
        self._uptime = ticks
        return rebooted

    def _if_sample(self, v: dict[str, int], i: int) -> Sample:
        now = time.monotonic()
        counters = {
            k: v[f"{oid}.{i}"]
            for k, oid in (("in", IF_HC_IN), ("out", IF_HC_OUT), ("err", IF_IN_ERRORS))
            if f"{oid}.{i}" in v
        }
        metrics: dict[str, float | bool | str] = {"up": v.get(f"{IF_OPER}.{i}") == 1}
        speed = v.get(f"{IF_HIGH_SPEED}.{i}") or 0
        if speed:
            metrics["bandwidth_mbps"] = float(speed)
        if self._prev is not None:
            then, old = self._prev
            dt = now - then
            if dt > 0:
                for key, metric in (("in", "util_in_pct"), ("out", "util_out_pct")):
                    delta = _delta(old.get(key), counters.get(key), COUNTER64)
                    if delta is not None and speed:
                        pct = delta * 8 / dt / (speed * 1e6) * 100
                        metrics[metric] = round(min(100.0, pct), 3)
                errors = _delta(old.get("err"), counters.get("err"), 2**32)
                if errors is not None:
                    metrics["errors_per_s"] = round(errors / dt, 3)
        self._prev = (now, counters)
        return Sample(metrics=metrics)

    async def _get(self, oids: list[str]) -> dict[str, int]:
        from pysnmp.hlapi.v3arch import asyncio as api

        p = self.params
        assert isinstance(p, SnmpParams)
        engine = _engine(api)
        try:
            transport = await api.UdpTransportTarget.create(
                (self.target.address, p.port), timeout=p.timeout_s, retries=p.retries
            )
        except Exception as exc:
            raise CheckError(f"snmp {self.target.address}:{p.port}: {exc}", kind="address") from exc
        err, status, index, binds = await api.get_cmd(
            engine,
            self._auth(api),
            transport,
            api.ContextData(),
            *(api.ObjectType(api.ObjectIdentity(o)) for o in oids),
        )
        if err:
            kind = "timeout" if "timeout" in str(err).lower() else "snmp"
            raise CheckError(f"snmp {self.target.address}:{p.port}: {err}", kind=kind)
        if status:
            raise CheckError(f"snmp: {status.prettyPrint()} at {index}", kind="snmp")
        out: dict[str, int] = {}
        for name, value in binds:
            if value.__class__.__name__ in ("NoSuchObject", "NoSuchInstance", "EndOfMibView"):
                continue
            try:
                out[str(name)] = int(value)
            except (TypeError, ValueError):
                raise CheckError(
                    f"snmp: {name} is not a number: {str(value)[:60]!r}", kind="parse"
                ) from None
        if not out:
            raise CheckError("snmp: none of the OIDs exists on this agent", kind="parse")
        return out

    def _auth(self, api: Any) -> Any:
        p = self.params
        assert isinstance(p, SnmpParams)
        if p.version == "2c":
            return api.CommunityData(self.secrets(p.community_env or ""), mpModel=1)
        kwargs: dict[str, Any] = {}
        if p.auth_key_env:
            kwargs["authKey"] = self.secrets(p.auth_key_env)
            kwargs["authProtocol"] = getattr(api, AUTH[p.auth_protocol])
        if p.priv_key_env:
            kwargs["privKey"] = self.secrets(p.priv_key_env)
            kwargs["privProtocol"] = getattr(api, PRIV[p.priv_protocol])
        return api.UsmUserData(p.user, **kwargs)


_ENGINES: dict[int, Any] = {}


def _engine(api: Any) -> Any:
    """One SNMP engine per event loop, shared by every SNMP check (an engine per device costs
    memory and file descriptors for nothing)."""
    import asyncio

    key = id(asyncio.get_running_loop())
    if key not in _ENGINES:
        _ENGINES.clear()  # a new loop (tests run several): the old engine's sockets are gone
        _ENGINES[key] = api.SnmpEngine()
    return _ENGINES[key]


def _delta(old: int | None, new: int | None, modulus: int) -> int | None:
    if old is None or new is None:
        return None
    if new >= old:
        return new - old
    # One wrap of the counter is plausible within an interval; a big step back is a reset.
    wrapped = new + modulus - old
    return wrapped if wrapped < modulus // 2 else None


def ups_sample(v: dict[str, int]) -> Sample:
    """UPS-MIB values → UPS metrics."""
    metrics: dict[str, float | bool | str] = {}
    if UPS_OUTPUT_SOURCE in v:
        metrics["on_battery"] = v[UPS_OUTPUT_SOURCE] == 5
    if UPS_BATTERY_STATUS in v:
        metrics["battery_status"] = BATTERY_STATUS.get(v[UPS_BATTERY_STATUS], "unknown")
    if UPS_MINUTES in v:
        metrics["battery_minutes"] = float(v[UPS_MINUTES])
    if UPS_CHARGE in v:
        metrics["battery_charge_pct"] = float(min(100, max(0, v[UPS_CHARGE])))
    if UPS_OUTPUT_LOAD in v:
        metrics["output_load_pct"] = float(max(0, v[UPS_OUTPUT_LOAD]))
    return Sample(metrics=metrics)
