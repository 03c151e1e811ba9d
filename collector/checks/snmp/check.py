"""``snmp``: v2c or v3 GETs of numeric OIDs (pysnmp 7 fetches MIBs by name from the network).

What to ask and how to read it is a profile (:mod:`collector.checks.snmp.profile`, YAML beside
this module): ``if`` (IF-MIB for one interface) and ``ups`` (UPS-MIB, RFC 1628) are shipped;
the default follows the device type (``ups`` for UPSes, ``if`` otherwise). Every profile also
reads ``sysUpTime``: ``uptime_s``, and a ``reboot`` event when it goes back.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from collector.checks.base import Check, CheckError, CheckParams, EventOut, Sample, Value
from collector.checks.snmp.profile import Profile, default_for, profiles

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"  # TimeTicks, 1/100 s

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
    profile: str | None = None  # a shipped profile's name; None: by the device type
    if_index: int = Field(1, ge=1)
    community_env: str | None = None
    user: str | None = None
    auth_protocol: Literal["md5", "sha", "sha256", "sha512"] = "sha"
    auth_key_env: str | None = None
    priv_protocol: Literal["des", "aes", "aes256"] = "aes"
    priv_key_env: str | None = None
    timeout_s: float = Field(2.0, gt=0, le=30)
    retries: int = Field(1, ge=0, le=5)

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, name: str | None) -> str | None:
        if name is not None and name not in profiles():
            raise ValueError(
                f"unknown SNMP profile {name!r}; known: {', '.join(sorted(profiles()))}"
            )
        return name

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
    def profile(self) -> Profile:
        p = self.params
        assert isinstance(p, SnmpParams)
        return profiles()[p.profile] if p.profile else default_for(self.target.type)

    async def poll(self) -> Sample:
        profile, index = self.profile, self.params.if_index  # type: ignore[attr-defined]
        values = await self._get([SYS_UPTIME, *profile.oids(index)])
        rebooted = self._rebooted(values.get(SYS_UPTIME))
        sample = self._read(profile, index, values)
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

    def _read(self, profile: Profile, index: int, v: dict[str, int]) -> Sample:
        """The profile's metrics from the agent's values (rates from the previous poll's)."""
        now = time.monotonic()
        metrics: dict[str, Value] = {}
        for name, reading in profile.values.items():
            oid = reading.oid.format(if_index=index)
            value = reading.read(v[oid]) if oid in v else reading.missing
            if value is not None:
                metrics[name] = value
        counters = {
            name: v[oid]
            for name, rate in profile.rates.items()
            if (oid := rate.counter.format(if_index=index)) in v
        }
        if self._prev is not None:
            then, old = self._prev
            dt = now - then
            if dt > 0:
                for name, rate in profile.rates.items():
                    delta = _delta(old.get(name), counters.get(name), 2**rate.bits)
                    if delta is not None and (value := rate.rate(delta, dt, metrics)) is not None:
                        metrics[name] = value
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
