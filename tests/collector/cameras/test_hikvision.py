"""Hikvision ISAPI polls against the ISAPI fake: each mapping and each bad answer."""

from __future__ import annotations

import socket

import pytest

from collector.checks.base import CheckError
from collector.checks.hikvision import HikvisionCheck, HikvisionParams
from simulators.vendors.hikvision import FakeHikvision

from .conftest import PASSWORD, USER, run, secrets, target


def check(fake: FakeHikvision, kind: str = "camera", **params: object) -> HikvisionCheck:
    p = HikvisionParams(port=fake.port, username=USER, password_env="CAM_PASS", **params)
    return HikvisionCheck(target(kind), p, secrets)


def poll(c: HikvisionCheck):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        try:
            return await c.poll()
        finally:
            await c.close()

    return run(go())


def polls(c: HikvisionCheck, n: int, between=None):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        out = []
        try:
            for i in range(n):
                out.append(await c.poll())
                if between is not None:
                    between(i)
        finally:
            await c.close()
        return out

    return run(go())


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_camera_metrics_and_identity(algorithm: str) -> None:
    fake = FakeHikvision(USER, PASSWORD, algorithm=algorithm).start()
    try:
        fake.state.cpu, fake.state.mem = 57.0, 81.5
        fake.state.fps_x100, fake.state.bitrate_kbps = 1500, 2048
        sample = poll(check(fake))
    finally:
        fake.stop()
    assert sample.metrics["cpu_pct"] == 57.0
    assert sample.metrics["mem_pct"] == 81.5
    assert 86_390 <= sample.metrics["uptime_s"] <= 86_500
    assert sample.metrics["fps_configured"] == 15.0
    assert sample.metrics["bitrate_configured_kbps"] == 2048
    assert sample.meta["serial"] == fake.state.serial
    assert sample.meta["model"] == "DS-2CD2143G2-I"
    assert sample.meta["firmware"] == "V5.7.3"
    assert "disk_status" not in sample.metrics  # cameras have no NVR storage


def test_swapped_reflashed_and_rebooted(hik_camera: FakeHikvision) -> None:
    def change(i: int) -> None:
        if i == 0:
            hik_camera.state.firmware = "V5.7.15"
        elif i == 1:
            hik_camera.state.serial = "DS-2CD2143G2-I20240101AAWRJ99999999"
            hik_camera.reboot()

    s0, s1, s2 = polls(check(hik_camera), 3, change)
    assert s0.events == []
    (flash,) = s1.events
    assert (flash.type, flash.data["what"]) == ("device_changed", "re-flashed")
    assert flash.data["changes"] == {"firmware": {"old": "V5.7.3", "new": "V5.7.15"}}
    types = {e.type: e for e in s2.events}
    assert types["device_changed"].data["what"] == "swapped"
    assert types["reboot"].data["uptime_s"] < 600
    assert s2.metrics["uptime_s"] < 600


@pytest.mark.parametrize(
    ("raw", "mapped"),
    [
        ("ok", "normal"),
        ("smartFailed", "smartfailed"),
        ("unformatted", "abnormal"),
        ("error", "abnormal"),
        ("notexist", "notonline"),
        ("weird-new-word", "abnormal"),
    ],
)
def test_nvr_disk_status_mapping(hik_nvr: FakeHikvision, raw: str, mapped: str) -> None:
    def fail(i: int) -> None:
        hik_nvr.state.disks[1].status = raw

    first, second = polls(check(hik_nvr, "nvr"), 2, fail)
    assert first.metrics["disk_status"] == "normal"
    assert second.metrics["disk_status"] == mapped
    assert second.meta["disks"]["2"] == raw.lower()
    failures = [e for e in second.events if e.type == "disk_failure"]
    if mapped == "normal":
        assert failures == []
    else:
        (ev,) = failures
        assert ev.severity == "critical"
        assert ev.data == {"disk": "2", "status": raw.lower(), "mapped": mapped, "state": "active"}


def test_nvr_disk_use_channels_and_recovery(hik_nvr: FakeHikvision) -> None:
    hik_nvr.state.disks[0].free_mb = 0
    hik_nvr.state.disks[1].free_mb = hik_nvr.state.disks[1].capacity_mb // 2

    def change(i: int) -> None:
        if i == 0:
            hik_nvr.state.channels[2].online = False
            hik_nvr.state.disks[0].status = "error"
        else:
            hik_nvr.state.channels[2].online = True
            hik_nvr.state.disks[0].status = "ok"

    s0, s1, s2 = polls(check(hik_nvr, "nvr"), 3, change)
    assert s0.metrics["disk_used_pct"] == 75.0
    assert s0.metrics["channels_recording"] == 4 and s0.metrics["recording"] is True
    assert s0.meta["channels"]["3"] == {"online": True, "ip": "192.168.1.103"}
    assert s1.metrics["channels_recording"] == 3
    off = [e for e in s1.events if e.type == "channel_offline"]
    assert off[0].data == {"channel": "3", "ip": "192.168.1.103", "state": "active"}
    assert s1.metrics["disk_used_pct"] == 50.0  # only healthy disks count
    cleared = {e.type: e.data["state"] for e in s2.events}
    assert cleared == {"channel_offline_cleared": "inactive", "disk_failure_cleared": "inactive"}


def test_no_channel_online_means_not_recording(hik_nvr: FakeHikvision) -> None:
    for ch in hik_nvr.state.channels:
        ch.online = False
    sample = poll(check(hik_nvr, "nvr"))
    assert sample.metrics["recording"] is False
    assert sample.metrics["channels_recording"] == 0


def test_wrong_password_is_an_auth_error(hik_camera: FakeHikvision) -> None:
    c = HikvisionCheck(
        target(),
        HikvisionParams(port=hik_camera.port, username=USER, password_env="BAD_PASS"),
        secrets,
    )
    with pytest.raises(CheckError) as err:
        poll(c)
    assert err.value.kind == "auth"
    assert "401" in err.value.reason


def test_unknown_user_is_an_auth_error(hik_camera: FakeHikvision) -> None:
    c = HikvisionCheck(
        target(),
        HikvisionParams(port=hik_camera.port, username="nobody", password_env="CAM_PASS"),
        secrets,
    )
    with pytest.raises(CheckError) as err:
        poll(c)
    assert err.value.kind == "auth"


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("garbage", "parse"),
        ("huge", "too_large"),
        ("status:500", "http"),
        ("slow", "timeout"),
        ("hang", "timeout"),
    ],
)
def test_bad_answers(hik_camera: FakeHikvision, fault: str, kind: str) -> None:
    hik_camera.faults["/ISAPI/System/status"] = fault
    with pytest.raises(CheckError) as err:
        poll(check(hik_camera, timeout_s=1.5))
    assert err.value.kind == kind, err.value.reason
    assert "/ISAPI/System/status" in err.value.reason


def test_wrong_document_is_a_parse_error(hik_camera: FakeHikvision) -> None:
    hik_camera.routes["/ISAPI/System/status"] = lambda q: (
        "application/xml",
        hik_camera.device_info(),
    )
    with pytest.raises(CheckError) as err:
        poll(check(hik_camera))
    assert err.value.kind == "parse"
    assert "expected <DeviceStatus>" in err.value.reason


def test_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = HikvisionCheck(target(), HikvisionParams(port=port, password_env="CAM_PASS"), secrets)
    with pytest.raises(CheckError) as err:
        poll(c)
    assert err.value.kind == "refused"


def test_params_are_strict() -> None:
    with pytest.raises(ValueError, match="extra"):
        HikvisionParams(password_env="X", pasword="typo")  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        HikvisionParams(password_env="X", port=70000)


def test_missing_secret_costs_only_the_poll(hik_camera: FakeHikvision) -> None:
    from collector.checks.dahua import DahuaCheck, DahuaParams
    from collector.checks.onvif import OnvifCheck, OnvifParams
    from collector.checks.rtsp import RtspCheck, RtspParams

    def unset(name: str) -> str:
        raise CheckError(f"secret {name} is not set", kind="config")

    checks = [
        HikvisionCheck(target(), HikvisionParams(port=hik_camera.port, password_env="NOPE"), unset),
        DahuaCheck(target(), DahuaParams(port=hik_camera.port, password_env="NOPE"), unset),
        OnvifCheck(target(), OnvifParams(port=hik_camera.port, password_env="NOPE"), unset),
        RtspCheck(target(), RtspParams(port=hik_camera.port, password_env="NOPE"), unset),
    ]  # built without the secret: the collector starts, the check reports
    for c in checks:
        with pytest.raises(CheckError) as err:
            poll(c)
        assert err.value.kind == "config", c.name
