"""Issue 19 item 8: a silence the engine cannot evaluate is skipped and reported, never fatal."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from pydantic import ValidationError

from alerts.silences import matchers_for
from ioc.ops.actions import create_silence
from ioc.ops.silences import SilenceSpec
from tests.alerts.conftest import EngineFactory, alerts, report, report_all

S = timedelta(seconds=1)
H = timedelta(hours=1)
RULES = "rules:\n  - {name: offline, kind: absence, types: [camera, speaker, link, nvr]}\n"
# Rows only SQL (or an older version) could write: out-of-range instants, wrong JSON shapes,
# a regex that does not compile, an unknown time zone.
BAD_ROWS = [
    (
        '[{"label": "device", "op": "=", "value": "cam-01"}]',
        "0001-01-01 00:00:00+07",
        "10000-01-01",
    ),
    ('{"label": "device"}', "-infinity", "infinity"),
    ('[{"label": "device", "op": "=~", "value": "("}]', "2000-01-01", "2100-01-01"),
    ('[{"label": "device", "op": "=", "value": "cam-02"}]', "2000-01-01", "2100-01-01"),
]
BAD_RECURRENCE = '{"start": "02:00", "end": "03:00", "tz": "Mars/Olympus"}'


def test_engine_skips_unevaluable_silences_and_still_fires(
    fleet: psycopg.Connection,
    make_engine: EngineFactory,
    t0: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = make_engine(RULES)
    report_all(fleet, t0)
    bad_ids = []
    for i, (matchers, starts, ends) in enumerate(BAD_ROWS):
        row = fleet.execute(
            "INSERT INTO silences (matchers, starts_at, ends_at, recurrence, created_by) "
            "VALUES (%s::jsonb, %s::timestamptz, %s::timestamptz, %s::jsonb, 'sql') RETURNING id",
            (matchers, starts, ends, BAD_RECURRENCE if i == 3 else None),
        ).fetchone()
        assert row is not None
        bad_ids.append(row[0])
    spec = SilenceSpec(
        matchers=matchers_for(device="solo"), starts_at=t0 - H, ends_at=t0 + H, comment="Bảo trì"
    )
    good = create_silence(fleet, spec, actor="truc.ban", channel="api", now=t0)
    for device in ("solo", "cam-01", "cam-02", "cam-03"):
        report(fleet, device, t0, online=False)
    with caplog.at_level(logging.ERROR, logger="alerts.engine"):
        result = engine.evaluate_once(t0 + S)
        engine.evaluate_once(t0 + 2 * S)
    by_device = {a["device_id"]: a for a in alerts(fleet, "offline")}
    # Alerts fire for every commune's devices; the good silence still mutes.
    assert {"solo", "cam-01", "cam-02", "cam-03"} <= set(by_device)
    assert by_device["solo"]["silenced_by"] == [good]
    assert by_device["cam-03"]["silenced_by"] == []
    # The row with clamped instants is a valid silence and mutes cam-01.
    assert by_device["cam-01"]["silenced_by"] == [bad_ids[0]]
    # The others are skipped, reported in the result, counted and logged once each.
    assert set(result.silences_skipped) == set(bad_ids[1:]), result.silences_skipped
    assert by_device["cam-02"]["silenced_by"] == []
    assert engine.silences_skipped_total == 2 * len(bad_ids[1:])
    logged = [r.getMessage() for r in caplog.records if "cannot be evaluated" in r.getMessage()]
    assert len(logged) == len(bad_ids[1:]), logged
    assert any("Mars/Olympus" in line for line in logged)


def test_silence_spec_refuses_out_of_range_instants(
    fleet: psycopg.Connection, t0: datetime
) -> None:
    """The one silence model (API, console, Telegram) refuses what would overflow."""
    for starts, ends in (
        (datetime(1, 1, 1, tzinfo=UTC), t0 + H),
        (t0, datetime(9999, 12, 31, tzinfo=UTC)),
        ("0001-01-01T00:00:00+07:00", t0 + H),
        (t0, "9999-12-31T23:59:59-07:00"),
    ):
        with pytest.raises(ValidationError, match="out of range"):
            SilenceSpec.model_validate(
                {
                    "matchers": matchers_for(device="solo"),
                    "starts_at": starts,
                    "ends_at": ends,
                    "comment": "x",
                }
            )
    assert fleet.execute("SELECT count(*) FROM silences").fetchone() == (0,)
