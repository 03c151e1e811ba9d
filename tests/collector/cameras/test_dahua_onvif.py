"""Dahua CGI polls and ONVIF SOAP polls against their fakes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from collector.checks.base import CheckError
from collector.checks.dahua import DahuaCheck, DahuaParams, parse_kv
from collector.checks.onvif import OnvifCheck, OnvifParams
from simulators.vendors.dahua import FakeDahua
from simulators.vendors.onvif import FakeOnvif

from .conftest import USER, run, secrets, streaming, target


def dahua(fake: FakeDahua, password_env: str = "CAM_PASS", **kw: object) -> DahuaCheck:
    return DahuaCheck(
        target("nvr", "nvr-02"),
        DahuaParams(port=fake.port, username=USER, password_env=password_env, **kw),
        secrets,
    )


def polls(check, n, between=None):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        out = []
        try:
            for i in range(n):
                out.append(await check.poll())
                if between:
                    between(i)
        finally:
            await check.close()
        return out

    return run(go())


@pytest.mark.parametrize(
    ("state", "is_error", "mapped"),
    [
        ("Success", False, "normal"),
        ("Error", False, "abnormal"),
        ("Success", True, "abnormal"),
        ("NotExist", False, "notonline"),
        ("Unformatted", False, "abnormal"),
        ("SomethingNew", False, "abnormal"),
    ],
)
def test_dahua_storage_mapping(
    dahua_nvr: FakeDahua, state: str, is_error: bool, mapped: str
) -> None:
    def fail(i: int) -> None:
        dahua_nvr.state.disks[0].state, dahua_nvr.state.disks[0].is_error = state, is_error

    first, second = polls(dahua(dahua_nvr), 2, fail)
    assert first.metrics == {"disk_status": "normal", "disk_used_pct": 25.0}
    assert second.metrics["disk_status"] == mapped
    assert second.meta["disks"]["/dev/sda"] == state
    assert first.meta["serial"] == "7E0DEF2PAZ00002"
    assert first.meta["model"] == "DHI-NVR4108HS-8P-4KS2"
    assert first.meta["firmware"].startswith("2.800")
    failures = [e for e in second.events if e.type == "disk_failure"]
    assert len(failures) == (mapped != "normal")


def test_dahua_swap(dahua_nvr: FakeDahua) -> None:
    def swap(i: int) -> None:
        dahua_nvr.state.serial = "7E0DEF2PAZ99999"

    _, second = polls(dahua(dahua_nvr), 2, swap)
    (ev,) = second.events
    assert ev.type == "device_changed" and ev.data["what"] == "swapped"


def test_dahua_wrong_password(dahua_nvr: FakeDahua) -> None:
    with pytest.raises(CheckError) as err:
        polls(dahua(dahua_nvr, "BAD_PASS"), 1)
    assert err.value.kind == "auth"


@pytest.mark.parametrize(
    ("fault", "kind"), [("garbage", "parse"), ("huge", "too_large"), ("slow", "timeout")]
)
def test_dahua_bad_answers(dahua_nvr: FakeDahua, fault: str, kind: str) -> None:
    dahua_nvr.faults["/cgi-bin/magicBox.cgi"] = fault
    with pytest.raises(CheckError) as err:
        polls(dahua(dahua_nvr, timeout_s=1.5), 1)
    assert err.value.kind == kind


@pytest.mark.parametrize("body", [b"", b"<html>Error</html>", b"no equals sign", b"\xff\xfe"])
def test_dahua_kv_rejects_garbage(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_kv(body)


def onvif(fake: FakeOnvif, password_env: str = "CAM_PASS", **kw: object) -> OnvifCheck:
    return OnvifCheck(
        target(),
        OnvifParams(port=fake.port, username=USER, password_env=password_env, **kw),
        secrets,
    )


@pytest.mark.parametrize("offset", [0.0, 90.0, -3600.0])
def test_onvif_clock_skew_and_identity(onvif_cam: FakeOnvif, offset: float) -> None:
    onvif_cam.clock_offset_s = offset
    (sample,) = polls(onvif(onvif_cam), 1)
    assert abs(sample.metrics["clock_skew_s"] - offset) <= 1.5
    assert sample.meta["serial"] == "ONVIF0001" and sample.meta["model"] == "IPC-ONVIF-1"
    assert sample.meta["streams"]["Profile_1"].endswith("/Streaming/Channels/101")
    skew_events = [e for e in sample.events if e.type == "clock_skew"]
    # The signed calls succeeded even with a wrong clock: Created follows the device's clock.
    assert len(skew_events) == (abs(offset) > 5)


def test_onvif_skew_clears(onvif_cam: FakeOnvif) -> None:
    onvif_cam.clock_offset_s = 60

    def fix(i: int) -> None:
        onvif_cam.clock_offset_s = 0

    first, second = polls(onvif(onvif_cam), 2, fix)
    assert first.events[0].data["state"] == "active"
    assert second.events[0].type == "clock_skew_cleared"
    assert second.events[0].data["state"] == "inactive"


def test_onvif_wrong_password(onvif_cam: FakeOnvif) -> None:
    with pytest.raises(CheckError) as err:
        polls(onvif(onvif_cam, "BAD_PASS"), 1)
    assert err.value.kind == "auth"
    assert "NotAuthorized" in err.value.reason


def test_onvif_garbage(onvif_cam: FakeOnvif) -> None:
    onvif_cam.post = lambda path, body: (200, "application/soap+xml", b"<env:Envelope")  # type: ignore[method-assign]
    with pytest.raises(CheckError) as err:
        polls(onvif(onvif_cam), 1)
    assert err.value.kind == "parse"


@pytest.mark.parametrize(
    ("topic", "item", "ours"),
    [
        ("tns1:RuleEngine/TamperDetector/Tamper", "IsTamper", "tamper"),
        ("tns1:VideoSource/GlobalSceneChange/ImagingService", "State", "tamper"),
        ("tns1:VideoSource/SignalLoss", "State", "video_loss"),
    ],
)
def test_onvif_pullpoint_events(onvif_cam: FakeOnvif, topic: str, item: str, ours: str) -> None:
    onvif_cam.clock_offset_s = 30  # signed event calls still work with a skewed clock
    check = onvif(onvif_cam, pull_timeout_s=1)

    async def go() -> list[Any]:
        await check.poll()  # measures the skew the signatures use
        samples: list[Any] = []
        task = asyncio.create_task(streaming(check, samples.append))
        onvif_cam.notify("tns1:VideoSource/MotionAlarm", "State", True)  # not ours: ignored
        onvif_cam.notify(topic, item, True)
        onvif_cam.notify(topic, item, True)  # repeated: one event
        onvif_cam.notify(topic, item, False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while sum(len(s.events) for s in samples) < 2 and loop.time() < deadline:
            await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await check.close()
        return [e for s in samples for e in s.events]

    start, end = run(go())
    assert (start.type, start.data["state"]) == (ours, "active")
    assert start.data["channel"] == "VideoSourceToken" and start.data["raw_type"] == topic
    assert end.type == f"{ours}_cleared"
    assert onvif_cam.subscriptions == 1


def test_onvif_pullpoint_refused_retries(onvif_cam: FakeOnvif) -> None:
    check = onvif(onvif_cam, "BAD_PASS", max_backoff_s=0.2)

    async def go() -> int:
        task = asyncio.create_task(streaming(check, lambda s: None))
        await asyncio.sleep(1.0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await check.close()
        return onvif_cam.requests.count("/onvif/event_service")

    assert run(go()) >= 2  # refused (NotAuthorized), backing off and trying again
