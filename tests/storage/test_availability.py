"""Availability against a hand-computed day: outages, a parent outage, maintenance windows.

Day D (UTC for easy arithmetic), k = 3, seconds from midnight:
- up (link, 60 s): silent 36000-43200 (last message 35940) -> offline 36000-43200 = 7200.
- cam1 (60 s, parent up): silent with its parent -> unreachable 7200; own outage 60000-63600
  with last will (status offline/online) -> offline 3600; online 75600.
- cam2 (60 s, parent up): silent with its parent -> unreachable 7200; silent 18000-21600 inside
  a maintenance window for it -> maintenance 3600; online 75600.
- cam3: never reported -> unknown 86400.
- spk (30 s): first message at 10800 -> unknown 10800 minus the daily 02:00-02:30 speaker
  maintenance (recurring silence) = 9000, maintenance 1800; silent 50010-50099 (gap 120 s > 90)
  -> offline 50010-50100 = 90; online 75510.
A silence that also matches a rule label is not a maintenance window (cam1 stays as above).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from psycopg.types.json import Jsonb

from storage import daily, render
from storage.availability import AvailabilityReport, monthly_report
from tests.storage.conftest import metric_id, storage_setup, write_points

SETTINGS = storage_setup(
    report={"timezone": "UTC"}, availability={"gap_factor": 3}, retention={"raw_days": 30}
)
DAY = (datetime.now(UTC) - timedelta(days=3)).date()
T0 = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
EXPECTED = {
    "up": (79200, 7200, 0, 0, 0),
    "cam1": (75600, 3600, 7200, 0, 0),
    "cam2": (75600, 0, 7200, 3600, 0),
    "cam3": (0, 0, 0, 0, 86400),
    "spk": (75510, 90, 0, 1800, 9000),
}


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _messages(interval: int, silent: list[tuple[int, int]], first: int = 0) -> list[int]:
    return [t for t in range(first, 86400, interval) if not any(lo <= t < hi for lo, hi in silent)]


@pytest.fixture
def fixture_day(db: psycopg.Connection, registry: dict[str, int]) -> None:
    online = metric_id(db, "online")
    parent_cut = (35941, 43200)
    plan = {
        "up": _messages(60, [parent_cut]),
        "cam1": _messages(60, [parent_cut, (60000, 63600)]),
        "cam2": _messages(60, [parent_cut, (18000, 21600)]),
        "spk": _messages(30, [(50010, 50100)], first=10800),
    }
    write_points(
        db,
        [(_at(t), 1.0, registry[dev], online) for dev, times in plan.items() for t in times],
    )
    for seconds, dev, state in (
        (0, "up", True),
        (36030, "up", False),
        (43200, "up", True),
        (0, "cam1", True),
        (60000, "cam1", False),
        (63600, "cam1", True),
    ):
        db.execute(
            "INSERT INTO device_status_changes (time, device_id, online) VALUES (%s, %s, %s)",
            (_at(seconds), dev, state),
        )
    silences = (
        ([{"label": "device", "op": "=", "value": "cam2"}], _at(18000), _at(21600), None),
        (
            [{"label": "type", "op": "=", "value": "speaker"}],
            _at(-86400),
            _at(2 * 86400),
            {"every": "daily", "start": "02:00", "end": "02:30", "tz": "UTC"},
        ),
        (
            [{"label": "device", "op": "=", "value": "cam1"}, {"label": "rule", "value": "x"}],
            _at(0),
            _at(86400),
            None,
        ),
    )
    for matchers, starts, ends, rec in silences:
        db.execute(
            "INSERT INTO silences (matchers, starts_at, ends_at, recurrence, created_by) "
            "VALUES (%s, %s, %s, %s, 'test')",
            (Jsonb(matchers), starts, ends, Jsonb(rec) if rec else None),
        )


@pytest.mark.usefixtures("fixture_day")
def test_day_matches_hand_computed_figures(db: psycopg.Connection) -> None:
    rows = daily.compute_day(db, SETTINGS, DAY, datetime.now(UTC))
    got = {
        r["device_id"]: tuple(
            r[k] for k in ("online_s", "offline_s", "unreachable_s", "maintenance_s", "unknown_s")
        )
        for r in rows
    }
    assert got == {k: tuple(float(x) for x in v) for k, v in EXPECTED.items()}
    assert all(r["complete"] for r in rows)


@pytest.mark.usefixtures("fixture_day")
def test_refresh_writes_rows_and_report_rolls_up(db: psycopg.Connection) -> None:
    now = T0 + timedelta(days=1)  # report as of the end of D: later days would be offline
    daily.refresh(db, SETTINGS, now=now)
    row = db.execute(
        "SELECT online_s, offline_s, unreachable_s, maintenance_s, unknown_s FROM "
        "availability_daily WHERE day = %s AND device_id = 'cam1'",
        (DAY,),
    ).fetchone()
    assert row == tuple(float(x) for x in EXPECTED["cam1"])
    report = monthly_report(db, "21025", DAY, settings=SETTINGS, now=now)
    by_id = {d.device_id: d for d in report.devices}
    # other days of the month have no data: they are unknown, never online
    assert by_id["up"].online_s == 79200
    assert by_id["up"].offline_s == 7200
    assert by_id["up"].availability_pct == pytest.approx(100 * 79200 / 86400, abs=1e-3)
    assert by_id["cam1"].availability_pct == pytest.approx(100 * 75600 / 79200, abs=1e-3)
    assert by_id["cam3"].availability_pct is None
    assert [d.device_id for d in report.worst] == ["up", "cam1", "spk"]
    assert report.own_downtime_s == 7200 + 3600 + 90
    assert report.total_downtime_s == 7200 + 3600 + 90 + 2 * 7200
    types = {g.key: g for g in report.types}
    assert types["camera"].devices == 3
    assert types["camera"].unreachable_s == 14400
    sites = {g.key: g for g in report.sites}
    assert sites["s-ubnd"].offline_s == 7290
    assert report.total.maintenance_s == 3600 + 1800 * _speaker_windows(DAY)


def _speaker_windows(day: date) -> int:
    """Days of the month up to D inside the recurring silence's validity (from D-1)."""
    return sum(1 for d in (day - timedelta(days=1), day) if d.month == day.month)


@pytest.mark.usefixtures("fixture_day")
def test_renderers_produce_parseable_files(db: psycopg.Connection) -> None:
    report = monthly_report(db, "21025", DAY, settings=SETTINGS, now=T0 + timedelta(days=1))
    data = render.render(report, "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == render.CSV_HEADER
    assert "Tỷ lệ sẵn sàng (%)" in rows[0]
    assert len(rows) == 1 + 5 + 2 + 3 + 1
    assert rows[-1][0] == "Toàn xã"
    assert AvailabilityReport.model_validate_json(render.render(report, "json")) == report
    assert json.loads(render.render(report, "json"))["commune_name"] == "Xã Tịnh Sơn"

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(render.render(report, "xlsx")))
    assert wb.sheetnames == ["Tổng hợp", "Thiết bị", "Theo điểm", "Theo loại", "Kém nhất"]
    assert wb["Tổng hợp"]["A1"].value == "Báo cáo mức độ sẵn sàng của thiết bị"
    assert wb["Thiết bị"].max_row == 1 + 5
    pdf = render.render(report, "pdf")
    assert pdf.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))
    assert pages >= 1  # layout: tests/storage/test_official_report.py
    assert b"DejaVu" in pdf  # the Unicode font is embedded for the diacritics


@pytest.mark.usefixtures("fixture_day")
def test_unobserved_time_counts_apart_like_unreachable(db: psycopg.Connection) -> None:
    # spk's 90 s of silence fell while the edge collector polling it was down (issue 17).
    for seconds, state in ((50000, "unobserved"), (50200, "online")):
        db.execute(
            "INSERT INTO device_reachability_changes (time, device_id, state) VALUES (%s, 'spk', %s)",
            (_at(seconds), state),
        )
    rows = {r["device_id"]: r for r in daily.compute_day(db, SETTINGS, DAY, datetime.now(UTC))}
    assert (rows["spk"]["offline_s"], rows["spk"]["unreachable_s"]) == (0.0, 90.0)
    assert rows["spk"]["online_s"] == EXPECTED["spk"][0]
