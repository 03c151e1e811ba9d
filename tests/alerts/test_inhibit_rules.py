"""Inhibit rules: the pairing itself (pure functions) and the rules file's validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.inhibit_rules import InhibitRule, inhibit, labels_of
from alerts.lifecycle import OpenAlert
from alerts.rules import parse_rules_file
from ioc.errors import ConfigError

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def alert(
    id_: int,
    rule: str,
    device: str = "cam-1",
    dtype: str = "camera",
    fired_s: float | None = 0,
    channel: str | None = None,
) -> OpenAlert:
    fired = None if fired_s is None else T0 + timedelta(seconds=fired_s)
    state = "pending" if fired is None else "firing"
    return OpenAlert(
        id_, f"{rule}:{device}", rule, "state", state, device, "critical", T0, None, [],
        "21025", "s1", dtype, None, None, channel, fired,
    )  # fmt: skip


def rule(text: str) -> list[InhibitRule]:
    return parse_rules_file("rules: []\ninhibit_rules:\n" + text).inhibit_rules


MUTUAL = rule("""
  - name: no_video
    source_matchers: ['rule=~"a|b"']
    target_matchers: ['rule=~"a|b|c"']
    equal: [device]
""")


def test_the_alert_that_fired_first_explains_the_other() -> None:
    first, second, third = alert(1, "b", fired_s=0), alert(2, "a", fired_s=5), alert(3, "c")
    got = inhibit(MUTUAL, [second, first, third], {})
    assert got.source_of(2) == 1 and got.source_of(3) == 1 and got.source_of(1) is None
    assert got.rule_of(3) == "no_video"


def test_a_pending_alert_explains_nothing_and_other_devices_are_apart() -> None:
    pending, other = alert(1, "a", fired_s=None), alert(2, "c", device="cam-2")
    assert inhibit(MUTUAL, [pending, alert(3, "c"), other], {}).by == {}


def test_chains_fold_under_their_top_and_muted_alerts_take_no_part() -> None:
    rules = rule("""
  - {name: down, source_matchers: ['rule="offline"'], target_matchers: ['rule="a"'],
     equal: [device]}
  - {name: video, source_matchers: ['rule="a"'], target_matchers: ['rule="c"'], equal: [device]}
""")
    alerts = [alert(1, "offline"), alert(2, "a"), alert(3, "c")]
    assert inhibit(rules, alerts, {}).by == {2: (1, "down"), 3: (1, "video")}
    # The offline alert is muted by topology (its device is cut off): it inhibits nothing.
    assert inhibit(rules, alerts, {}, frozenset({1})).by == {3: (2, "video")}


def test_an_nvr_channel_names_the_camera_recorded_there() -> None:
    nvr = alert(1, "video_loss", device="nvr-1", dtype="nvr", channel="02")
    labels = labels_of(nvr, {("nvr-1", "2"): "cam-7"})
    assert labels["camera"] == "cam-7" and labels["channel"] == "2"
    assert labels_of(alert(2, "fps_low", device="cam-7"), {})["camera"] == "cam-7"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("  - {name: x, source_matchers: ['rule=a'], target_matchers: ['rule=b'], "
         "equal: [devise]}", "unknown label(s) ['devise']"),
        ("  - {name: x, source_matchers: ['rule~a'], target_matchers: ['rule=b']}",
         "is not like"),
        ("  - {name: x, target_matchers: ['rule=b']}", "source_matchers"),
    ],
)  # fmt: skip
def test_bad_inhibit_rules_are_refused_by_number_and_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_rules_file("rules: []\ninhibit_rules:\n" + text, "rules.yaml")
    assert "inhibit rule #1" in str(err.value) and message in str(err.value)
