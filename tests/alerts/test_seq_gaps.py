"""Sequence-gap rules: lost messages (device_status.seq_gaps grew) are alerted, not only counted."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from alerts.engine import AlertEngine
from tests.alerts.conftest import EngineFactory, alerts, report_all

S = timedelta(seconds=1)
M = timedelta(minutes=1)
GAPS = """
rules:
  - {name: gaps, kind: seq_gaps, types: [camera, speaker, link, nvr], window: 10m, gaps: 2,
     for: 1m}
"""


def set_gaps(conn: psycopg.Connection, device: str, counter: int) -> None:
    """Ingest's counter of sequence jumps for ``device`` is now ``counter``."""
    conn.execute(
        "INSERT INTO device_status (device_id, seq_gaps, last_seq) VALUES (%(d)s, %(n)s, 1000)"
        " ON CONFLICT (device_id) DO UPDATE SET seq_gaps = excluded.seq_gaps",
        {"d": device, "n": counter},
    )


def step(engine: AlertEngine, conn: psycopg.Connection, at: datetime) -> None:
    """Every device reported just now (nothing is unreachable or held), then one evaluation."""
    report_all(conn, at)
    engine.evaluate_once(at)


def test_gaps_fire_after_the_hold_and_resolve_a_window_later(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(GAPS)
    step(engine, fleet, t0)
    set_gaps(fleet, "cam-01", 3)
    step(engine, fleet, t0 + 10 * S)
    (alert,) = alerts(fleet, "gaps")
    assert (alert["device_id"], alert["state"]) == ("cam-01", "pending")
    step(engine, fleet, t0 + 69 * S)
    assert alerts(fleet, "gaps")[0]["state"] == "pending"
    step(engine, fleet, t0 + 71 * S)
    (alert,) = alerts(fleet, "gaps")
    assert (alert["state"], alert["severity"]) == ("firing", "warning")
    assert alert["annotations"]["gaps"] == 3
    assert alert["annotations"]["seq_gaps_total"] == 3
    assert alert["annotations"]["kind"] == "seq_gaps"
    assert alert["summary"] == (
        "Camera Thiết bị 1 tại UBND xã mất 3 bản tin (thiếu số thứ tự) trong 10 phút"
    )
    assert alert["summary_en"] == (
        "Camera Thiết bị 1 at UBND xã lost 3 message(s) (missing seq) in 10m"
    )
    # No new gap: still open inside the window, resolved once the window has passed.
    for minute in range(2, 11):
        step(engine, fleet, t0 + minute * M + S)
    assert alerts(fleet, "gaps")[0]["state"] == "firing"
    step(engine, fleet, t0 + 10 * M + 11 * S)
    assert alerts(fleet, "gaps")[0]["state"] == "resolved"


def test_new_gaps_keep_the_alert_open(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(GAPS)
    step(engine, fleet, t0)
    set_gaps(fleet, "spk-1", 2)
    step(engine, fleet, t0 + S)
    step(engine, fleet, t0 + 2 * M)
    assert alerts(fleet, "gaps", "firing")[0]["device_id"] == "spk-1"
    set_gaps(fleet, "spk-1", 3)  # one more gap 9 minutes later: below the threshold alone
    step(engine, fleet, t0 + 9 * M + S)
    step(engine, fleet, t0 + 12 * M + S)  # the first two left the window, the third holds
    assert alerts(fleet, "gaps")[0]["state"] == "firing"
    step(engine, fleet, t0 + 19 * M + 11 * S)
    assert [a["state"] for a in alerts(fleet, "gaps")] == ["resolved"]


def test_engine_restart_does_not_fire_on_the_historical_total(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    set_gaps(fleet, "cam-02", 5000)  # counted over years, before this engine started
    engine = make_engine(GAPS)
    for minute in range(0, 3):
        step(engine, fleet, t0 + minute * M + S)
    assert alerts(fleet, "gaps") == []
    set_gaps(fleet, "cam-02", 5002)
    step(engine, fleet, t0 + 3 * M)
    step(engine, fleet, t0 + 4 * M + S)
    (alert,) = alerts(fleet, "gaps", "firing")
    assert alert["annotations"]["gaps"] == 2
    assert alert["annotations"]["seq_gaps_total"] == 5002


def test_an_open_alert_survives_an_engine_restart_for_one_window(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    first = make_engine(GAPS)
    step(first, fleet, t0)
    set_gaps(fleet, "up1", 4)
    step(first, fleet, t0 + S)
    step(first, fleet, t0 + 2 * M)
    assert alerts(fleet, "gaps")[0]["state"] == "firing"
    first.stop()
    second = make_engine(GAPS)  # restarted: nothing in memory
    step(second, fleet, t0 + 3 * M + S)
    assert alerts(fleet, "gaps")[0]["state"] == "firing"
    step(second, fleet, t0 + 13 * M + 2 * S)
    assert alerts(fleet, "gaps")[0]["state"] == "resolved"


def test_a_reorder_blip_below_the_threshold_does_not_fire(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(GAPS)
    step(engine, fleet, t0)
    set_gaps(fleet, "cam-03", 1)  # a higher seq arrived before a lower one
    for minute in range(0, 12):
        step(engine, fleet, t0 + minute * M + S)
    assert alerts(fleet, "gaps") == []
    set_gaps(fleet, "cam-03", 2)  # another blip, but the first left the window
    for minute in range(12, 15):
        step(engine, fleet, t0 + minute * M + S)
    assert alerts(fleet, "gaps") == []


def test_a_registered_device_without_status_starts_from_zero(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(GAPS)
    engine.evaluate_once(t0)  # no device has reported yet
    set_gaps(fleet, "nvr-1", 2)
    step(engine, fleet, t0 + 2 * S)
    step(engine, fleet, t0 + 2 * M)
    assert [a["device_id"] for a in alerts(fleet, "gaps", "firing")] == ["nvr-1"]
