"""Hikvision alertStream and Dahua attach streams: mapping, heartbeats, bursts, disconnects."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from collector.checks.base import EventOut, Sample
from collector.checks.dahua import DahuaCheck, DahuaParams
from collector.checks.hikvision import HikvisionCheck, HikvisionParams
from simulators.vendors.dahua import FakeDahua
from simulators.vendors.hikvision import FakeHikvision
from simulators.vendors.httpfake import FakeHttpDevice

from .conftest import USER, run, secrets, streaming, target


async def wait_for(pred: Any, timeout: float = 10.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Streamed:
    """Runs a check's stream() in the background and collects what it emits."""

    def __init__(self, check: Any, fake: FakeHttpDevice) -> None:
        self.check, self.fake = check, fake
        self.samples: list[Sample] = []

    @property
    def events(self) -> list[EventOut]:
        return [e for s in self.samples for e in s.events]

    async def __aenter__(self) -> Streamed:
        self.task = asyncio.create_task(streaming(self.check, self.samples.append))
        await wait_for(lambda: self.fake.stream_count() == 1, what="stream open")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.check.close()


def hik(fake: FakeHikvision, **params: Any) -> HikvisionCheck:
    p = HikvisionParams(
        port=fake.port, username=USER, password_env="CAM_PASS", max_backoff_s=0.2, **params
    )
    return HikvisionCheck(target("nvr", "nvr-01"), p, secrets)


MAPPING = [
    ("videoloss", "video_loss", "critical"),
    ("shelteralarm", "tamper", "critical"),
    ("tamperdetection", "tamper", "critical"),
    ("diskfull", "storage_failure", "critical"),
    ("diskerror", "storage_failure", "critical"),
    ("recordingfailure", "recording_stopped", "critical"),
    ("VMD", "motion", "info"),
    ("nicbroken", "camera_event", "warning"),
    ("illaccess", "camera_event", "warning"),
]


@pytest.mark.parametrize(("raw", "ours", "severity"), MAPPING)
def test_hikvision_event_mapping(
    hik_nvr: FakeHikvision, raw: str, ours: str, severity: str
) -> None:
    async def go() -> list[EventOut]:
        async with Streamed(hik(hik_nvr), hik_nvr) as s:
            hik_nvr.alert(raw, "active", "3")
            hik_nvr.alert(raw, "active", "3")  # repeats while it lasts: one event
            await wait_for(lambda: len(s.events) >= 1, what="active event")
            hik_nvr.alert(raw, "inactive", "3")
            await wait_for(lambda: len(s.events) >= 2, what="inactive event")
            return s.events

    start, end = run(go())
    assert (start.type, start.severity) == (ours, severity)
    assert start.data["state"] == "active" and start.data["channel"] == "3"
    assert start.data["raw_type"] == raw
    assert start.ts is not None  # the device's own dateTime
    assert (end.type, end.data["state"], end.data["cleared_by"]) == (
        f"{ours}_cleared",
        "inactive",
        "device",
    )


def test_heartbeats_alone_emit_nothing(hik_nvr: FakeHikvision) -> None:
    async def go() -> list[EventOut]:
        async with Streamed(hik(hik_nvr), hik_nvr) as s:
            await asyncio.sleep(1.0)  # five heartbeats (videoloss/inactive) go by
            assert s.check.stream_alive
            return s.events

    assert run(go()) == []


def test_never_inactive_is_cleared_after_timeout(hik_nvr: FakeHikvision) -> None:
    async def go() -> list[EventOut]:
        async with Streamed(hik(hik_nvr, event_clear_s=0.5), hik_nvr) as s:
            hik_nvr.alert("shelteralarm", "active", "1")
            await wait_for(lambda: len(s.events) >= 2, what="timeout clear")
            return s.events

    start, end = run(go())
    assert (start.type, end.type) == ("tamper", "tamper_cleared")
    assert end.data["cleared_by"] == "timeout"


def test_burst_of_distinct_events(hik_nvr: FakeHikvision) -> None:
    async def go() -> list[EventOut]:
        async with Streamed(hik(hik_nvr), hik_nvr) as s:
            for ch in range(1, 65):
                hik_nvr.alert("videoloss", "active", str(ch))
            await wait_for(lambda: len(s.events) >= 64, what="64 events")
            return s.events

    events = run(go())
    assert sorted(int(e.data["channel"]) for e in events) == list(range(1, 65))


def test_abrupt_disconnect_reconnects_and_keeps_state(hik_nvr: FakeHikvision) -> None:
    async def go() -> list[EventOut]:
        async with Streamed(hik(hik_nvr), hik_nvr) as s:
            hik_nvr.alert("videoloss", "active", "2")
            await wait_for(lambda: len(s.events) >= 1, what="first event")
            hik_nvr.drop_streams()
            await wait_for(lambda: hik_nvr.streams_opened >= 2, what="reconnect")
            await wait_for(lambda: hik_nvr.stream_count() == 1, what="stream open again")
            hik_nvr.alert("videoloss", "active", "2")  # still the same condition
            hik_nvr.alert("shelteralarm", "active", "2")
            await wait_for(lambda: len(s.events) >= 2, what="event after reconnect")
            await asyncio.sleep(0.3)
            return s.events

    events = run(go())
    assert [e.type for e in events] == ["video_loss", "tamper"]


@pytest.mark.parametrize(
    ("part", "reason"),
    [
        (b"<EventNotificationAlert><eventType>", "malformed"),
        (b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", "forbidden"),
        (b"<DeviceInfo><model>x</model></DeviceInfo>", "expected <EventNotificationAlert>"),
    ],
    ids=["truncated", "entity", "wrong-document"],
)
def test_garbage_part_costs_only_itself(hik_nvr: FakeHikvision, part: bytes, reason: str) -> None:
    async def go() -> list[EventOut]:
        async with Streamed(hik(hik_nvr), hik_nvr) as s:
            for _ in range(5):  # a device repeating garbage is reported once, with a count
                hik_nvr.send_part("application/xml", part)
            hik_nvr.send_part("image/jpeg", b"\xff\xd8\xff\xe0 picture \xff\xd9")
            hik_nvr.alert("diskfull", "active", "0")
            await wait_for(
                lambda: any(e.type == "storage_failure" for e in s.events),
                what="the good event after the garbage",
            )
            return s.events

    bad, good = run(go())
    assert bad.type == "camera_event" and bad.data["raw_type"] == "unparseable"
    assert reason in bad.data["reason"]
    assert good.type == "storage_failure"


def test_silent_stream_is_reopened() -> None:
    fake = FakeHikvision(USER, "Cam-pass-123", nvr=True, heartbeat_s=30).start()
    try:

        async def go() -> int:
            async with Streamed(hik(fake, heartbeat_timeout_s=0.5), fake):
                await wait_for(lambda: fake.streams_opened >= 2, what="reopen after silence")
                return fake.streams_opened

        assert run(go()) >= 2
    finally:
        fake.stop()


def test_stream_refused_then_back(hik_nvr: FakeHikvision) -> None:
    hik_nvr.faults["/ISAPI/Event/notification/alertStream"] = "status:503"

    async def go() -> list[EventOut]:
        c = hik(hik_nvr)
        samples: list[Sample] = []
        task = asyncio.create_task(streaming(c, samples.append))
        await wait_for(
            lambda: hik_nvr.requests.count("/ISAPI/Event/notification/alertStream") >= 4,
            what="retries",
        )
        del hik_nvr.faults["/ISAPI/Event/notification/alertStream"]
        await wait_for(lambda: hik_nvr.stream_count() == 1, what="stream open")
        hik_nvr.alert("videoloss", "active", "1")
        await wait_for(lambda: samples, what="event")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await c.close()
        return [e for s in samples for e in s.events]

    assert [e.type for e in run(go())] == ["video_loss"]


DAHUA = [
    ("VideoLoss", "video_loss"),
    ("VideoBlind", "tamper"),
    ("StorageFailure", "storage_failure"),
    ("StorageNotExist", "storage_failure"),
    ("VideoMotion", "motion"),
    ("NetAbort", "camera_event"),
]


@pytest.mark.parametrize(("code", "ours"), DAHUA)
def test_dahua_event_mapping(dahua_nvr: FakeDahua, code: str, ours: str) -> None:
    c = DahuaCheck(
        target("nvr", "nvr-02"),
        DahuaParams(port=dahua_nvr.port, username=USER, password_env="CAM_PASS", max_backoff_s=0.2),
        secrets,
    )

    async def go() -> list[EventOut]:
        async with Streamed(c, dahua_nvr) as s:
            dahua_nvr.event(code, "Start", 4)
            await wait_for(lambda: len(s.events) >= 1, what="start")
            dahua_nvr.event(code, "Stop", 4)
            await wait_for(lambda: len(s.events) >= 2, what="stop")
            dahua_nvr.send_part("text/plain", b"Code=;garbage")
            await wait_for(lambda: len(s.events) >= 3, what="garbage reported")
            return s.events

    start, stop, bad = run(go())
    assert (start.type, start.data["channel"], start.data["state"]) == (ours, "5", "active")
    assert (stop.type, stop.data["state"]) == (f"{ours}_cleared", "inactive")
    assert bad.data["raw_type"] == "unparseable"
    assert any("heartbeat=5" in r or r == "/cgi-bin/eventManager.cgi" for r in dahua_nvr.requests)
