"""Silences and maintenance windows: matchers, recurrence, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import psycopg
import pytest
from pydantic import ValidationError

from alerts.mute import TopologyInhibitor, mutes
from alerts.silences import (
    Matcher,
    Recurrence,
    Silence,
    Silencer,
    create_silence,
    expire_silence,
    matchers_for,
)
from tests.alerts.conftest import EngineFactory, actions, alerts, report, report_all

S = timedelta(seconds=1)
H = timedelta(hours=1)
LABELS = {
    "commune": "21025",
    "site": "s-ubnd",
    "device": "cam-01",
    "type": "camera",
    "rule": "offline",
    "severity": "critical",
}


@pytest.mark.parametrize(
    ("label", "op", "value", "expected"),
    [
        ("device", "=", "cam-01", True),
        ("device", "!=", "cam-01", False),
        ("device", "=~", "cam-.*", True),
        ("device", "=~", "cam", False),  # anchored like Alertmanager
        ("type", "!~", "speaker|link", True),
        ("assignee", "=", "", True),  # a missing label is empty
    ],
)
def test_matchers(label: str, op: str, value: str, expected: bool) -> None:
    assert Matcher(label=label, op=op, value=value).matches(LABELS) is expected  # type: ignore[arg-type]


def test_bad_matchers_and_windows_rejected() -> None:
    with pytest.raises(ValidationError, match="invalid regex"):
        Matcher(label="device", op="=~", value="(")
    with pytest.raises(ValidationError):
        Matcher(label="device", op="~", value="x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="needs days"):
        Recurrence(every="weekly", start=time(2), end=time(3))
    with pytest.raises(ValidationError, match="unknown time zone"):
        Recurrence(start=time(2), end=time(3), tz="Mars/Olympus")
    with pytest.raises(ValueError, match="unknown label"):
        matchers_for(colour="red")


def test_daily_window_in_vietnam_time_crossing_midnight() -> None:
    window = Recurrence(start=time(23, 30), end=time(0, 30))  # Asia/Ho_Chi_Minh = UTC+7
    assert window.covers(datetime(2026, 3, 1, 16, 45, tzinfo=UTC))  # 23:45 local
    assert window.covers(datetime(2026, 3, 1, 17, 15, tzinfo=UTC))  # 00:15 local next day
    assert not window.covers(datetime(2026, 3, 1, 17, 31, tzinfo=UTC))
    nightly = Recurrence(start=time(2), end=time(3))
    assert nightly.covers(datetime(2026, 3, 1, 19, 30, tzinfo=UTC))  # 02:30 local
    assert not nightly.covers(datetime(2026, 3, 1, 2, 30, tzinfo=UTC))  # 09:30 local


def test_weekly_window() -> None:
    sunday = Recurrence(every="weekly", days=["sun"], start=time(6), end=time(8))
    # 2026-03-01 is a Sunday; 07:00 local = 00:00 UTC.
    assert sunday.covers(datetime(2026, 3, 1, 0, 0, tzinfo=UTC))
    assert not sunday.covers(datetime(2026, 3, 2, 0, 0, tzinfo=UTC))
    silence = Silence(
        id=1,
        matchers=[Matcher(label="site", value="s-ubnd")],
        starts_at=datetime(2026, 1, 1, tzinfo=UTC),
        ends_at=datetime(2026, 12, 31, tzinfo=UTC),
        recurrence=sunday,
    )
    assert Silencer([silence], datetime(2026, 3, 1, 0, 0, tzinfo=UTC)).muted_by(LABELS) == [1]
    assert Silencer([silence], datetime(2026, 3, 2, 0, 0, tzinfo=UTC)).muted_by(LABELS) == []


def test_inhibitor_and_silencer_share_the_mutes_interface() -> None:
    inhibitor = TopologyInhibitor({"cam-01": "up1"}, {"up1": 7})
    assert inhibitor.muted_by(LABELS) == [7]
    assert not mutes(inhibitor, {**LABELS, "device": "up1"})
    assert not mutes(TopologyInhibitor({"cam-01": "up1"}, {}), LABELS)  # no root alert yet


def test_silence_mutes_then_expires(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(
        "rules:\n  - {name: offline, kind: absence, types: [camera, speaker, link, nvr]}\n"
    )
    report_all(fleet, t0)
    sid = create_silence(
        fleet,
        matchers=matchers_for(site="s-ubnd", type="speaker"),
        starts_at=t0 - H,
        ends_at=t0 + H,
        created_by="truc.ban",
        comment="Bảo trì cụm loa",
    )
    report(fleet, "solo", t0, online=False)
    report(fleet, "cam-01", t0, online=False)
    engine.evaluate_once(t0 + S)
    by_device = {a["device_id"]: a for a in alerts(fleet, "offline")}
    assert by_device["solo"]["silenced_by"] == [sid] and by_device["solo"]["state"] == "firing"
    assert by_device["cam-01"]["silenced_by"] == []
    assert actions(fleet, by_device["solo"]["id"]) == ["pending", "firing", "silenced"]
    # Expired by hand: the alert comes through.
    assert expire_silence(fleet, sid, t0 + 2 * S)
    assert not expire_silence(fleet, sid, t0 + 3 * S)
    engine.evaluate_once(t0 + 3 * S)
    solo = next(a for a in alerts(fleet, "offline") if a["device_id"] == "solo")
    assert solo["silenced_by"] == []
    assert actions(fleet, solo["id"])[-1] == "unsilenced"


def test_recurring_maintenance_window_and_natural_end(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(
        "rules:\n  - {name: offline, kind: absence, types: [camera, speaker, link, nvr]}\n"
    )
    report_all(fleet, t0)
    local = t0.astimezone(Recurrence(start=time(0), end=time(1)).zone())
    start = (local - timedelta(minutes=5)).time().replace(second=0, microsecond=0)
    end = (local + timedelta(minutes=10)).time().replace(second=0, microsecond=0)
    sid = create_silence(
        fleet,
        matchers=[{"label": "device", "op": "=~", "value": "solo|up1"}],
        starts_at=t0 - H,
        ends_at=t0 + 24 * H,
        created_by="truc.ban",
        recurrence={"every": "daily", "start": start.isoformat(), "end": end.isoformat()},
    )
    report(fleet, "solo", t0, online=False)
    engine.evaluate_once(t0 + S)
    assert alerts(fleet, "offline")[0]["silenced_by"] == [sid]
    report_all(fleet, t0 + 15 * timedelta(minutes=1), ["up1", "g4", "core", "cam-core", "nvr-1"])
    engine.evaluate_once(t0 + 15 * timedelta(minutes=1))  # window over for today
    assert alerts(fleet, "offline")[0]["silenced_by"] == []
