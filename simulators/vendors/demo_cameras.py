"""Demo cameras: a few ISAPI/CGI fakes and an NVR for the demo commune, with a scripted day.

For the demo collector (``ioc demo``): :func:`start` runs the fakes on loopback and returns the
inventory devices that watch them (``hikvision``/``dahua`` checks); :func:`script` then plays
the scenario: NVR disk 2 fails (``smartfailed``) at ``disk_at_s``, camera channel 2 loses video
at ``video_loss_at_s`` and gets it back ``video_loss_for_s`` later. No RTSP here: the demo must
run without the GStreamer packages.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from simulators.vendors.dahua import FakeDahua
from simulators.vendors.hikvision import FakeHikvision
from simulators.vendors.httpfake import FakeHttpDevice

log = logging.getLogger(__name__)

USER = "monitor"
PASSWORD_ENV = "DEMO_CAM_PASS"


@dataclass
class DemoCameras:
    """The running fakes and the inventory devices that watch them."""

    nvr: FakeHikvision
    cameras: list[FakeHttpDevice]
    devices: list[dict[str, Any]] = field(default_factory=list)

    def stop(self) -> None:
        for fake in [self.nvr, *self.cameras]:
            fake.stop()


def start(
    commune: str,
    collector: str,
    password: str,
    *,
    prefix: str = "demo",
    site: str | None = None,
    cameras: int = 3,
    interval_s: int = 30,
) -> DemoCameras:
    """Start one Hikvision NVR, ``cameras`` Hikvision cameras and one Dahua camera."""
    nvr = FakeHikvision(USER, password, nvr=True, channels=cameras + 1).start()
    cams: list[FakeHttpDevice] = [FakeHikvision(USER, password).start() for _ in range(cameras)]
    cams.append(FakeDahua(USER, password).start())
    demo = DemoCameras(nvr, cams)
    base = {
        "commune": commune,
        "collector": collector,
        "address": "127.0.0.1",
        "interval_s": interval_s,
        **({"site": site} if site else {}),
    }
    nvr_id = f"{prefix}-nvr-1"
    demo.devices.append(
        {
            **base,
            "id": nvr_id,
            "type": "nvr",
            "name": "Đầu ghi UBND",
            "checks": {"hikvision": _params(nvr)},
        }
    )
    for i, cam in enumerate(cams, 1):
        check = "dahua" if isinstance(cam, FakeDahua) else "hikvision"
        demo.devices.append(
            {
                **base,
                "id": f"{prefix}-cam-{i}",
                "type": "camera",
                "name": f"Camera {i}",
                "parent": nvr_id,
                # Recorded on NVR channel i: its video loss there and this camera are one
                # incident (the alert engine's inhibit rules).
                "metadata": {"nvr": nvr_id, "nvr_channel": i},
                "checks": {check: _params(cam)},
            }
        )
    return demo


def _params(fake: FakeHttpDevice) -> dict[str, Any]:
    return {"port": fake.port, "username": USER, "password_env": PASSWORD_ENV}


async def script(
    demo: DemoCameras,
    *,
    disk_at_s: float = 120,
    video_loss_at_s: float = 60,
    video_loss_for_s: float = 300,
) -> None:
    """Play the demo's faults once (cancel to stop)."""
    steps = sorted(
        [
            (video_loss_at_s, "video loss on NVR channel 2", lambda: _video(demo, True)),
            (disk_at_s, "NVR disk 2 fails", lambda: _disk(demo, "smartFailed")),
            (
                video_loss_at_s + video_loss_for_s,
                "video back on NVR channel 2",
                lambda: _video(demo, False),
            ),
        ],
        key=lambda s: s[0],
    )
    elapsed = 0.0
    for at, what, act in steps:
        await asyncio.sleep(max(0.0, at - elapsed))
        elapsed = at
        log.info("demo cameras: %s", what)
        act()


def _video(demo: DemoCameras, lost: bool) -> None:
    demo.nvr.state.channels[1].online = not lost
    demo.nvr.alert("videoloss", "active" if lost else "inactive", "2")


def _disk(demo: DemoCameras, status: str) -> None:
    demo.nvr.state.disks[1].status = status
    demo.nvr.alert("diskerror", "active", "0")
