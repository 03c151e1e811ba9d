"""Counts per device type as one phrase (console pages and notifications share it)."""

from __future__ import annotations

from devices.catalogue import type_counts, type_label


def test_counts_most_first_in_both_languages() -> None:
    counts = {"speaker": 2, "camera": 9}
    assert type_counts(counts, "vi") == "9 camera, 2 cụm loa"
    assert type_counts(counts, "en") == "9 cameras, 2 loudspeakers"
    assert type_counts({"speaker": 1}, "en") == "1 loudspeaker"
    assert type_label("no-such-type", "vi") == "no-such-type" and type_label(None, "en") == ""


def test_stored_json_that_is_not_counts_gives_nothing() -> None:
    for odd in ("nine", [1, 2], None, {}, {"camera": "x"}, {"camera": True}, {"camera": 1.5}):
        assert type_counts(odd, "vi") == ""
    assert type_counts({"camera": "x", "speaker": 3}, "en") == "3 loudspeakers"
