"""The video stream itself: RTSP OPTIONS/DESCRIBE every poll, a short RTP sample now and then.

``stream_up`` is true when DESCRIBE returns an SDP. An RTSP 401 proves the service is up but our
credentials are wrong: ``stream_state = unauthorized`` and a ``stream_auth_failed`` event, not a
"stream down". Every ``sample_every_s`` (staggered per device so 100 cameras do not sample
together) the check also PLAYs ``sample_s`` seconds over TCP-interleaved RTP and reports the
measured ``fps`` and ``bitrate_kbps``: the camera that pings and answers ISAPI but delivers no
video shows 0 here.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, ClassVar

from pydantic import Field

from collector.checks.base import Check, CheckParams, EventOut, Sample
from collector.protocols.rtsp import RtspClient, RtspError, video_control


class RtspParams(CheckParams):
    port: int = Field(554, ge=1, le=65535)
    path: str = Field("/Streaming/Channels/101", pattern=r"^/[^\s]*$", max_length=256)
    username: str = Field("", max_length=64)
    password_env: str = Field("", max_length=128)
    timeout_s: float = Field(5.0, gt=0, le=60)
    sample_every_s: float = Field(600.0, ge=0)  # 0: never sample RTP
    sample_s: float = Field(3.0, gt=0, le=30)


class RtspCheck(Check):
    name: ClassVar[str] = "rtsp"
    Params: ClassVar[type[CheckParams]] = RtspParams
    params: RtspParams

    def __init__(self, target: Any, params: CheckParams, secrets: Any) -> None:
        super().__init__(target, params, secrets)
        p = self.params
        self.url = f"rtsp://{target.address}:{p.port}{p.path}"
        # Stagger: each device samples at its own offset within the period.
        frac = int(hashlib.sha1(target.device_id.encode()).hexdigest()[:8], 16) / 2**32
        self._next_sample = time.monotonic() + frac * p.sample_every_s
        self._state: str | None = None

    def _sample_due(self) -> bool:
        p = self.params
        if p.sample_every_s <= 0 or time.monotonic() < self._next_sample:
            return False
        self._next_sample = time.monotonic() + p.sample_every_s
        return True

    async def poll(self) -> Sample:
        sample = Sample()
        try:
            password = self.secrets(self.params.password_env) if self.params.password_env else ""
            async with RtspClient(
                self.url, self.params.username, password, timeout_s=self.params.timeout_s
            ) as client:
                state, reason = await self._describe(client, sample)
        except RtspError as exc:
            state, reason = "down", exc.reason
        sample.metrics["stream_up"] = state != "down"
        sample.metrics["stream_state"] = state
        sample.meta["stream_url"] = self.url
        if reason:
            sample.meta["stream_reason"] = reason
        if state == "down":
            sample.metrics["fps"] = 0.0
        if state != self._state:
            if state == "unauthorized":
                sample.events.append(
                    EventOut("stream_auth_failed", "warning", {"url": self.url, "reason": reason})
                )
            self._state = state
        return sample

    async def _describe(self, client: RtspClient, sample: Sample) -> tuple[str, str]:
        resp = await client.request("OPTIONS")
        if resp.status not in (200, 401):
            return "down", f"OPTIONS: RTSP {resp.status} {resp.reason}"
        resp = await client.request("DESCRIBE", headers={"Accept": "application/sdp"})
        if resp.status == 401:
            return "unauthorized", "DESCRIBE: RTSP 401: service up, credentials refused"
        if resp.status != 200 or not resp.body.startswith(b"v=0"):
            return "down", f"DESCRIBE: RTSP {resp.status} {resp.reason}"
        if self._sample_due():
            base = resp.headers.get("content-base", self.url)
            try:
                stats = await client.sample_rtp(
                    video_control(resp.body, base), self.params.sample_s
                )
            except RtspError as exc:
                return "down", f"RTP sample: {exc.reason}"
            sample.metrics["fps"] = round(stats.fps, 2)
            sample.metrics["bitrate_kbps"] = round(stats.bitrate_kbps, 1)
            sample.meta["rtp"] = {
                "packets": stats.packets,
                "bytes": stats.bytes,
                "frames": stats.frames,
                "seconds": round(stats.seconds, 2),
            }
        return "up", ""
