"""One device's extreme stored value (from before ingest bounded values) costs only itself."""

from __future__ import annotations

from datetime import datetime

import psycopg

from tests.alerts.conftest import EngineFactory, alerts, metric, report_all


def test_an_extreme_reference_value_does_not_fail_the_rule_for_every_device(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine("""
rules:
  - {name: fps_low, kind: threshold, types: [camera], metric: fps, op: "<", value: 50,
     clear: 60, percent_of: fps_configured}
""")
    report_all(fleet, t0)
    metric(fleet, "cam-01", "fps_configured", 1.7e308, t0)  # overflows value × 50 / 100
    metric(fleet, "cam-01", "fps", 10, t0)
    metric(fleet, "cam-02", "fps_configured", 25, t0)
    metric(fleet, "cam-02", "fps", 10, t0)
    report_all(fleet, t0)
    result = engine.evaluate_once(t0)
    assert result.rule_errors == []
    assert {a["device_id"] for a in alerts(fleet, "fps_low", "firing")} == {"cam-02"}
