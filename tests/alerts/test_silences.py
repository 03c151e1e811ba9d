"""Silences and maintenance windows: matchers, recurrence, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import psycopg
import pytest
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from alerts.mute import TopologyInhibitor, mutes
from alerts.silences import Silence, Silencer, matchers_for
from ioc.ops.actions import create_silence, expire_silence
from ioc.ops.matchers import Matcher
from ioc.ops.silences import Recurrence, SilenceSpec
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
    with pytest.raises(ValidationError, match="invalid regular expression"):
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
    spec = SilenceSpec(
        matchers=matchers_for(site="s-ubnd", type="speaker"),  # type: ignore[arg-type]
        starts_at=t0 - H,
        ends_at=t0 + H,
        comment="Bảo trì cụm loa",
    )
    sid = create_silence(fleet, spec, actor="truc.ban", channel="api", now=t0)
    report(fleet, "solo", t0, online=False)
    report(fleet, "cam-01", t0, online=False)
    engine.evaluate_once(t0 + S)
    by_device = {a["device_id"]: a for a in alerts(fleet, "offline")}
    assert by_device["solo"]["silenced_by"] == [sid] and by_device["solo"]["state"] == "firing"
    assert by_device["cam-01"]["silenced_by"] == []
    assert actions(fleet, by_device["solo"]["id"]) == ["pending", "firing", "silenced"]
    # Expired by hand: the alert comes through.
    assert expire_silence(fleet, sid, actor="truc.ban", channel="console", now=t0 + 2 * S)
    assert not expire_silence(fleet, sid, actor="truc.ban", channel="console", now=t0 + 3 * S)
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
    spec = SilenceSpec.model_validate(
        {
            "matchers": [{"label": "device", "op": "=~", "value": "solo|up1"}],
            "starts_at": t0 - H,
            "ends_at": t0 + 24 * H,
            "comment": "Bảo trì hằng đêm",
            "recurrence": {"every": "daily", "start": start.isoformat(), "end": end.isoformat()},
        }
    )
    sid = create_silence(fleet, spec, actor="truc.ban", channel="api", now=t0)
    report(fleet, "solo", t0, online=False)
    engine.evaluate_once(t0 + S)
    assert alerts(fleet, "offline")[0]["silenced_by"] == [sid]
    report_all(fleet, t0 + 15 * timedelta(minutes=1), ["up1", "g4", "core", "cam-core", "nvr-1"])
    engine.evaluate_once(t0 + 15 * timedelta(minutes=1))  # window over for today
    assert alerts(fleet, "offline")[0]["silenced_by"] == []


# A pattern with nested quantifiers: a backtracking engine needs ~2^n steps to refuse it on a
# run of n letters (Python's re takes hours at n = 40); RE2 is linear in the input.
CATASTROPHIC = "(a+)+b"


@pytest.mark.timeout(20)
def test_catastrophic_regex_is_linear() -> None:
    matcher = Matcher(label="device", op="=~", value=CATASTROPHIC)
    assert not matcher.matches({"device": "a" * 100_000})
    assert Matcher(label="device", op="!~", value=CATASTROPHIC).matches({"device": "a" * 64})
    with pytest.raises(ValidationError, match="invalid regular expression"):
        Matcher(label="device", op="=~", value=r"(a)\1")  # backreferences are refused
    with pytest.raises(ValidationError):
        Matcher(label="device", op="=~", value="a" * 201)  # length cap


@pytest.mark.timeout(30)
def test_catastrophic_silence_cannot_delay_alert_evaluation(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    from tests.alerts.conftest import _device

    engine = make_engine(
        "rules:\n  - {name: offline, kind: absence, types: [camera, speaker, link, nvr]}\n"
    )
    victim = "a" * 60  # a valid device id on which the pattern backtracks forever in re
    _device(fleet, victim, "camera", "Camera", [])
    report_all(fleet, t0)
    report(fleet, victim, t0)
    spec = SilenceSpec.model_validate(
        {
            "matchers": [
                {"label": "device", "op": "=~", "value": CATASTROPHIC},
                {"label": "type", "op": "=", "value": "camera"},
            ],
            "starts_at": t0 - H,
            "ends_at": t0 + H,
            "comment": "thử",
        }
    )
    create_silence(fleet, spec, actor="ky.thuat", channel="api", now=t0)
    report(fleet, victim, t0, online=False)
    engine.evaluate_once(t0 + S)
    (alert,) = [a for a in alerts(fleet, "offline") if a["device_id"] == victim]
    assert alert["state"] == "firing" and alert["silenced_by"] == []


def test_equality_matchers_are_tested_before_regexes() -> None:
    silence = Silence.model_validate(
        {
            "id": 1,
            "matchers": [
                {"label": "device", "op": "=~", "value": CATASTROPHIC},
                {"label": "commune", "op": "=", "value": "99999"},
            ],
            "starts_at": datetime(2026, 1, 1, tzinfo=UTC),
            "ends_at": datetime(2027, 1, 1, tzinfo=UTC),
        }
    )
    assert [m.op for m in silence._ordered] == ["=", "=~"]
    assert not silence.matches(LABELS)


def test_silence_stored_with_a_regex_re2_refuses_is_skipped(
    fleet: psycopg.Connection, t0: datetime
) -> None:
    fleet.execute(
        "INSERT INTO silences (matchers, starts_at, ends_at, created_by)"
        " VALUES (%s, %s, %s, 'old')",
        (Jsonb([{"label": "device", "op": "=~", "value": "(?=cam)cam-01"}]), t0 - H, t0 + H),
    )
    good = create_silence(
        fleet,
        SilenceSpec(matchers=matchers_for(device="cam-01"), ends_at=t0 + H, comment="x"),  # type: ignore[arg-type]
        actor="ky.thuat",
        channel="api",
        now=t0,
    )
    assert Silencer.load(fleet, t0).muted_by(LABELS) == [good]
