"""Each fault kind's effect on what the devices publish (pure world, no broker)."""

from __future__ import annotations

import itertools
import json
from datetime import datetime

import pytest

from devices.catalogue import all_metrics
from simulators.device import Message
from simulators.world import World
from tests.simulators.conftest import START, WorldFactory, body, events_of, metrics_of

MIN = 60.0


def run(world: World, fault: str, target: str, at: float = 5 * MIN, length: float = 20 * MIN,
        after: float = 10 * MIN, **params: object) -> tuple[list[Message], list[Message], list[Message]]:  # fmt: skip
    """Messages before, during and after a fault injected at ``at`` for ``length``."""
    world.inject(fault, target, length, START + at, dict(params))
    before = world.advance(START + at - 0.001)
    during = world.advance(START + at + length - 0.001)
    later = world.advance(START + at + length + after)
    return before, during, later


def kinds(messages: list[Message], device: str) -> list[str]:
    """Connection changes of a device, in order."""
    return [m.kind for m in messages if m.device == device and m.kind in ("connect", "disconnect")]


def test_uplink_cut_silences_everything_behind_it_then_backfills(world: WorldFactory) -> None:
    _, during, later = run(world(), "uplink_cut", "ts-uplink")
    behind = ["ts-uplink", "ts-an-tho-sw", "ts-an-tho-cam01", "ts-an-tho-spk1"]
    for device in behind:
        assert kinds(during, device) == ["disconnect"], device
        assert not metrics_of(during, device), device
        assert kinds(later, device) == ["connect"], device
    assert "ts-core" not in {m.device for m in during if m.kind == "disconnect"}
    assert metrics_of(during, "ts-core")[-1]["wan"] == "4g", "core fails over to the 4G backup"
    assert metrics_of(later, "ts-core")[-1]["wan"] == "fiber"
    backfill = [body(m) for m in later if m.device == "ts-an-tho-cam01" and m.kind == "readings"]
    assert backfill and len(backfill[0]["readings"]) >= 18  # 20 minutes at one per minute
    assert not [m for m in later if m.device == "ts-an-tho-spk1" and m.kind == "readings"]
    assert not [
        m for m in later if m.device == "ts-uplink" and m.kind == "event" and b"reboot" in m.payload
    ]


def test_outage_is_silent_without_backfill_and_reboots(world: WorldFactory) -> None:
    _, during, later = run(world(), "outage", "ts-cam-01")
    assert kinds(during, "ts-cam-01") == ["disconnect"]
    assert not [m for m in during if m.device == "ts-cam-01" and m.kind != "disconnect"]
    assert not [m for m in later if m.device == "ts-cam-01" and m.kind == "readings"]
    assert events_of(later, "ts-cam-01", "reboot")
    assert metrics_of(later, "ts-cam-01")[0]["uptime_s"] < 600


def test_power_cut_kills_mains_devices_and_speakers_run_on_battery(world: WorldFactory) -> None:
    _, during, later = run(world(), "power_cut", "21025")
    assert kinds(during, "ts-cam-01") == ["disconnect"]
    standalone = metrics_of(during, "ts-an-tho-spk3")  # a 4G cluster with its own battery
    assert standalone and all(m["mains_ok"] is False for m in standalone)
    assert standalone[-1]["battery_v"] < standalone[0]["battery_v"]
    assert events_of(during, "ts-an-tho-spk3", "power_lost")
    assert events_of(later, "ts-an-tho-spk3", "power_restored")
    assert kinds(during, "ts-an-tho-spk1") == ["disconnect"], "behind a dead switch: unreachable"


def test_storm_takes_out_a_share_and_degrades_links(world: WorldFactory) -> None:
    w = world()
    _, during, _ = run(w, "storm", "21025", length=3 * 3600, after=0)
    hits = [f for f in w.fault_log if f.source.startswith("storm#")]
    assert 0.15 * len(w.devices) <= len(hits) <= 0.45 * len(w.devices)
    down = {m.device for m in during if m.kind == "disconnect"}
    assert len(down) >= len(hits)
    losses = [m["loss_pct"] for d in ("ts-gov", "ts-4g") for m in metrics_of(during, d)]
    assert losses and max(losses) > 15


def test_flapping_toggles_the_connection(world: WorldFactory) -> None:
    _, during, later = run(world(), "flapping", "ts-an-tho-sw", length=30 * MIN)
    changes = kinds(during, "ts-an-tho-sw")
    assert changes.count("disconnect") >= 5
    assert all(a != b for a, b in itertools.pairwise(changes))
    assert (changes + kinds(later, "ts-an-tho-sw"))[-1] == "connect"


@pytest.mark.parametrize(
    ("fault", "device", "metric", "faulty", "event"),
    [
        ("video_loss", "ts-cam-01", "fps", 0.0, "video_loss"),
        ("video_loss", "ts-cam-01", "stream_up", False, "video_loss"),
        ("disk_failure", "ts-nvr-01", "disk_status", "smartfailed", "disk_failure"),
        ("disk_failure", "ts-nvr-01", "recording", False, "recording_stopped"),
        ("amp_fault", "ts-an-tho-spk1", "amp_ok", False, "amp_fault"),
        ("tamper", "ts-cam-01", "online", True, "tamper"),
    ],
)
def test_device_faults_show_in_metrics_and_events(
    world: WorldFactory, fault: str, device: str, metric: str, faulty: object, event: str
) -> None:
    before, during, later = run(world(), fault, device, length=30 * MIN)
    assert all(m[metric] != faulty for m in metrics_of(before, device)) or metric == "online"
    assert metrics_of(during, device) and all(
        m[metric] == faulty for m in metrics_of(during, device)
    )
    assert events_of(during, device, event)
    if metric != "online":
        assert metrics_of(later, device)[-1][metric] != faulty


def test_link_degraded_and_weak_signal(world: WorldFactory) -> None:
    _, during, _ = run(world(), "link_degraded", "ts-uplink")
    assert all(m["loss_pct"] > 10 and m["rtt_ms"] > 100 for m in metrics_of(during, "ts-uplink"))
    before, during, _ = run(world(), "weak_signal", "ts-an-tho-spk3")
    was = max(m["rsrp_dbm"] for m in metrics_of(before, "ts-an-tho-spk3"))
    assert max(m["rsrp_dbm"] for m in metrics_of(during, "ts-an-tho-spk3")) < was - 8


def test_emergency_broadcast_missed_by_a_broken_amplifier(world: WorldFactory) -> None:
    w = world()
    w.inject("amp_fault", "ts-an-tho-spk1", 3600, START + MIN)
    w.inject("emergency_broadcast", "21025", 600, START + 3 * MIN)
    out = w.advance(START + 6 * MIN)
    missed = [
        e
        for e in events_of(out, "ts-an-tho-spk1", "broadcast")
        if e["data"]["priority"] == "emergency"
    ]
    assert missed[0]["data"]["result"] == "missed" and missed[0]["severity"] == "critical"
    assert missed[0]["data"]["priority"] == "emergency" and missed[0]["data"][
        "schedule_id"
    ].startswith("emg-")
    played = [
        e
        for e in events_of(out, "ts-an-tho-spk2", "broadcast")
        if e["data"]["priority"] == "emergency"
    ]
    assert played[0]["data"]["result"] in ("executed", "late")
    states = [m["state"] for m in metrics_of(out, "ts-an-tho-spk2")]
    assert "emergency" in states


def test_clock_skew_shifts_timestamps(world: WorldFactory) -> None:
    _, during, later = run(world(), "clock_skew", "ts-cam-01", skew="1h")
    for m in [m for m in during if m.device == "ts-cam-01" and m.kind == "telemetry"]:
        assert datetime.fromisoformat(body(m)["ts"]).timestamp() == pytest.approx(
            m.t + 3600, abs=0.01
        )
    last = [m for m in later if m.device == "ts-cam-01" and m.kind == "telemetry"][-1]
    assert datetime.fromisoformat(body(last)["ts"]).timestamp() == pytest.approx(last.t, abs=0.01)


def test_duplicates_out_of_order_and_malformed(world: WorldFactory) -> None:
    _, during, _ = run(world(), "duplicates", "ts-cam-01")
    payloads = [m.payload for m in during if m.device == "ts-cam-01" and m.kind == "telemetry"]
    assert len(payloads) >= 2 and len(payloads) == 2 * len(set(payloads))
    _, during, later = run(world(), "out_of_order", "ts-cam-01")
    seqs = [
        body(m)["seq"] for m in during + later if m.device == "ts-cam-01" and m.kind == "telemetry"
    ]
    assert any(b < a for a, b in itertools.pairwise(seqs))
    assert sorted(seqs) == list(range(min(seqs), min(seqs) + len(seqs)))
    _, during, _ = run(world(), "malformed", "ts-cam-01")
    raw = [m for m in during if m.device == "ts-cam-01" and m.kind == "raw"]
    assert raw and not [m for m in during if m.device == "ts-cam-01" and m.kind == "telemetry"]
    assert all(not contract_ok(m.payload) for m in raw)


def contract_ok(payload: bytes) -> bool:
    """True when a payload is a valid telemetry message of the contract (catalogue metrics)."""
    try:
        doc = json.loads(payload.decode("utf-8"), parse_constant=lambda c: float("nan"))
        datetime.fromisoformat(doc["ts"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return False
    known = all_metrics()
    metrics = doc.get("metrics")
    return isinstance(metrics, dict) and all(
        name in known and isinstance(v, int | float | bool | str) and v == v
        and not (isinstance(v, str) and v not in known[name].enum_values)
        for name, v in metrics.items()
    )  # fmt: skip


def test_bad_fault_targets_are_refused(world: WorldFactory) -> None:
    w = world()
    with pytest.raises(ValueError, match="no device of type camera"):
        w.inject("video_loss", "ts-uplink", 60)
    with pytest.raises(ValueError, match="unknown target"):
        w.inject("outage", "nowhere", 60)
    with pytest.raises(ValueError, match="unknown fault"):
        w.inject("meteor", "ts-uplink", 60)
