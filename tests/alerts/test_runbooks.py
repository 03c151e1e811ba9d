"""Every shipped rule says what a technician checks first ("Cách xử lý"), in vi and en."""

from __future__ import annotations

from pathlib import Path

import alerts.rules
from alerts.rules import load_rules, parse_rules
from alerts.rules.base import Condition

SHIPPED = Path(alerts.rules.__file__).parent / "default_rules.yaml"


def test_every_shipped_rule_has_a_runbook_in_both_languages() -> None:
    rules = load_rules(SHIPPED)
    assert len(rules) > 30
    missing = [r.name for r in rules if r.runbook is None]
    assert missing == []
    for rule in rules:
        assert rule.runbook is not None
        assert len(rule.runbook.vi) > 20 and len(rule.runbook.en) > 20, rule.name
        assert rule.runbook.vi != rule.runbook.en, rule.name


def test_the_runbook_travels_in_the_alert_annotations() -> None:
    (rule,) = parse_rules(
        """
rules:
  - name: amp
    kind: state
    types: [speaker]
    metric: amp_ok
    value: 0
    runbook: {vi: "Thay bộ khuếch đại", en: "Replace the amplifier"}
"""
    )
    facts = rule.annotations(Condition(device_id="s1", value=0.0, fire=True))
    assert facts["runbook"] == {"vi": "Thay bộ khuếch đại", "en": "Replace the amplifier"}
