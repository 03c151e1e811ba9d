"""Any ONVIF camera: device information, clock skew, media profiles and their stream URIs.

Plain SOAP over httpx (:mod:`collector.protocols.soap`), no WSDLs: ``GetSystemDateAndTime``
(answers without authentication) gives ``clock_skew_s`` = device clock - ours; the later calls
carry a WS-UsernameToken whose ``Created`` is corrected by that skew, which is what makes a
camera with a wrong clock still answer. ``GetDeviceInformation`` -> model, serial, firmware in
the meta (``device_changed`` when they change); ``GetProfiles`` + ``GetStreamUri`` -> the RTSP
URIs in the meta (for the rtsp check). A skew beyond ``max_skew_s`` is a ``clock_skew`` event:
such a camera stamps wrong times on its video and fails signed requests.
:meth:`OnvifCheck.stream` subscribes to PullPoint events (tamper, signal loss; see
:mod:`collector.checks.onvif.pullpoint`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import Field

from collector.checks._events import EventTracker, edge_type, identity_change
from collector.checks.base import (
    Check,
    CheckError,
    CheckParams,
    Emit,
    EventOut,
    Reconnect,
    Sample,
    translates,
)
from collector.checks.onvif import pullpoint
from collector.protocols import soap, xmlsafe
from collector.protocols.errors import ProtocolError

log = logging.getLogger(__name__)
SUBSCRIPTION_S = 100.0  # a PullPoint subscription is renewed by creating another


class OnvifParams(CheckParams):
    port: int = Field(80, ge=1, le=65535)
    username: str = Field("admin", min_length=1, max_length=64)
    password_env: str = Field(min_length=1, max_length=128)
    https: bool = False
    verify_tls: bool = False
    device_path: str = Field("/onvif/device_service", pattern=r"^/\S*$")
    media_path: str = Field("/onvif/media_service", pattern=r"^/\S*$")
    timeout_s: float = Field(10.0, gt=0, le=120)
    max_skew_s: float = Field(5.0, gt=0)
    profiles: bool = True
    events: bool = True  # PullPoint subscription for tamper / signal loss
    event_path: str = Field("/onvif/event_service", pattern=r"^/\S*$")
    pull_timeout_s: int = Field(10, ge=1, le=60)
    event_clear_s: float = Field(120.0, gt=0)
    max_backoff_s: float = Field(60.0, gt=0)


class OnvifCheck(Check):
    name: ClassVar[str] = "onvif"
    Params: ClassVar[type[CheckParams]] = OnvifParams
    params: OnvifParams

    def __init__(self, target: Any, params: CheckParams, secrets: Any) -> None:
        super().__init__(target, params, secrets)
        p = self.params
        base = f"{'https' if p.https else 'http'}://{target.address}:{p.port}"
        self.device_url, self.media_url = base + p.device_path, base + p.media_path
        self.event_url = base + p.event_path
        self.tracker = EventTracker(p.event_clear_s)
        self.skew_s = 0.0
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(p.timeout_s), verify=p.verify_tls)
        self._identity: dict[str, str] | None = None
        self._skewed = False

    @property
    def password(self) -> str:
        """The secret, resolved on use (CheckError ``config`` when it is not set)."""
        return self.secrets(self.params.password_env)

    @translates
    async def poll(self) -> Sample:
        try:
            return await self._poll()
        except xmlsafe.XmlError as exc:
            raise CheckError(str(exc), kind="parse") from None
        except TimeoutError:
            raise CheckError(
                f"no complete answer within {self.params.timeout_s:g} s", kind="timeout"
            ) from None

    async def _poll(self) -> Sample:
        p, sample = self.params, Sample()
        password = self.password  # a missing secret is a config error before any traffic
        async with asyncio.timeout(p.timeout_s * 2):
            sent = time.time()
            answer = await soap.call(
                self.client, self.device_url, f'<GetSystemDateAndTime xmlns="{soap.DEVICE_NS}"/>'
            )
            mid = (sent + time.time()) / 2
            skew = soap.utc_of(answer).timestamp() - mid
            self.skew_s = skew
            sample.metrics["clock_skew_s"] = round(skew, 1)
            skewed = abs(skew) > p.max_skew_s
            if skewed != self._skewed:
                sample.events.append(
                    EventOut(
                        edge_type("clock_skew", skewed),
                        "warning" if skewed else "info",
                        {
                            "skew_s": round(skew, 1),
                            "state": "active" if skewed else "inactive",
                            "device_utc": datetime.fromtimestamp(mid + skew, UTC).isoformat(),
                        },
                    )
                )
                self._skewed = skewed
            sec = soap.security_header(p.username, password, skew)
            info = await soap.call(
                self.client,
                self.device_url,
                f'<GetDeviceInformation xmlns="{soap.DEVICE_NS}"/>',
                sec,
            )
            ident = {
                k: xmlsafe.text(info, tag) or ""
                for k, tag in (
                    ("manufacturer", "Manufacturer"),
                    ("model", "Model"),
                    ("firmware", "FirmwareVersion"),
                    ("serial", "SerialNumber"),
                )
            }
            sample.meta.update(ident)
            if (event := identity_change(self._identity, ident)) is not None:
                sample.events.append(event)
            self._identity = ident
            if p.profiles:
                sample.meta["streams"] = await self._streams(sec)
        return sample

    async def _streams(self, sec: str) -> dict[str, str]:
        profiles = await soap.call(
            self.client, self.media_url, f'<GetProfiles xmlns="{soap.MEDIA_NS}"/>', sec
        )
        out: dict[str, str] = {}
        for prof in profiles:
            token = prof.get("token")
            if xmlsafe.local(prof.tag) != "Profiles" or not token or len(out) >= 8:
                continue
            body = (
                f'<GetStreamUri xmlns="{soap.MEDIA_NS}"><StreamSetup><Stream '
                f'xmlns="{soap.SCHEMA_NS}">RTP-Unicast</Stream><Transport '
                f'xmlns="{soap.SCHEMA_NS}"><Protocol>RTSP</Protocol></Transport>'
                f"</StreamSetup><ProfileToken>{token[:64]}</ProfileToken></GetStreamUri>"
            )
            uri = xmlsafe.text(await soap.call(self.client, self.media_url, body, sec), "Uri")
            if uri:
                out[token[:64]] = uri[:300]
        return out

    @property
    def streams(self) -> bool:
        return self.params.events

    @property
    def reconnect(self) -> Reconnect:
        # A subscription lives ~SUBSCRIPTION_S and ends normally; one that pulled for a
        # while was healthy.
        return Reconnect(max_s=self.params.max_backoff_s, healthy_s=SUBSCRIPTION_S / 4)

    def stream_dropped(self) -> Sample | None:
        events = self.tracker.expire()
        return Sample(events=events) if events else None

    @translates
    async def stream(self, emit: Emit) -> None:
        """One PullPoint subscription: created, pulled for ~SUBSCRIPTION_S, then it ends (the
        scheduler creates the next)."""
        try:
            await self._subscription(emit)
        except xmlsafe.XmlError as exc:
            raise CheckError(f"PullPoint: unreadable answer: {exc}", kind="parse") from None
        except (CheckError, ProtocolError) as exc:
            raise CheckError(f"PullPoint: {exc.reason}", kind=exc.kind) from None

    async def _subscription(self, emit: Emit) -> None:
        p = self.params

        def headers(action: str, to: str) -> str:
            sec = soap.security_header(p.username, self.password, self.skew_s)
            return sec + pullpoint.addressing(action, to)

        created = await soap.call(
            self.client,
            self.event_url,
            pullpoint.create_body(),
            headers("EventPortType/CreatePullPointSubscriptionRequest", self.event_url),
        )
        address = pullpoint.subscription_address(created)
        started = time.monotonic()
        while time.monotonic() - started < SUBSCRIPTION_S:
            answer = await soap.call(
                self.client,
                address,
                pullpoint.pull_body(p.pull_timeout_s),
                headers("PullPointSubscription/PullMessagesRequest", address),
                timeout_s=p.pull_timeout_s + p.timeout_s,
            )
            events = pullpoint.events_of_pull(self.tracker, answer) + self.tracker.expire()
            if events:
                emit(Sample(events=events))

    async def close(self) -> None:
        await self.client.aclose()
