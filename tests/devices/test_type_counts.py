"""Counts per device type as one phrase (console pages and notifications share it)."""

from __future__ import annotations

from devices.catalogue import TYPES, type_counts, type_label


def test_counts_most_first_in_both_languages() -> None:
    counts = {"speaker": 2, "camera": 9}
    assert (
        type_counts(counts, "vi")
        == f"9 {TYPES['camera'].vi.lower()}, 2 {TYPES['speaker'].vi.lower()}"
    )
    assert type_counts(counts, "en") == f"9 {TYPES['camera'].en}, 2 {TYPES['speaker'].en}"
    assert type_label("no-such-type", "vi") == "no-such-type" and type_label(None, "en") == ""


def test_stored_json_that_is_not_counts_gives_nothing() -> None:
    for odd in ("nine", [1, 2], None, {}, {"camera": "x"}, {"camera": True}, {"camera": 1.5}):
        assert type_counts(odd, "vi") == ""
    assert type_counts({"camera": "x", "speaker": 3}, "en") == f"3 {TYPES['speaker'].en}"
