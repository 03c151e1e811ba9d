"""Reorder-tolerant loss counting (pure logic of ingest.sequence)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.sequence import MAX_RANGES, SeqState

T0 = datetime(2026, 11, 1, tzinfo=UTC)
HOLD_MS = 60_000


def feed(state: SeqState, *messages: tuple[int, float]) -> SeqState:
    """(seq, seconds after T0) pairs as one batch: sorted by time, then settled."""
    for seq, s in sorted(messages, key=lambda m: m[1]):
        state.observe(T0 + timedelta(seconds=s), seq)
    state.settle(HOLD_MS)
    return state


def test_in_order_stream_loses_nothing() -> None:
    state = feed(SeqState(), *((i, i) for i in range(1, 200)))
    assert (state.last_seq, state.lost, state.missing) == (199, 0, [])


def test_reordered_across_batches_is_not_a_loss() -> None:
    state = feed(SeqState(), (1, 1), (3, 3))  # another worker holds 2
    assert state.missing == [2, 2, int((T0 + timedelta(seconds=3)).timestamp() * 1000)]
    feed(state, (2, 2))
    feed(state, (4, 200))  # long after the hold
    assert (state.last_seq, state.lost, state.missing) == (4, 0, [])


def test_missing_after_the_hold_counts_every_lost_message() -> None:
    state = feed(SeqState(), (10, 0), (1211, 5))  # 1,200 dropped by the broker
    assert state.lost == 0
    feed(state, (500, 6))  # one of them comes late, splitting the range
    assert state.missing[0::3] == [11, 501] and state.missing[1::3] == [499, 1210]
    feed(state, (1212, 66))
    assert (state.lost, state.missing) == (1199, [])


def test_duplicates_and_older_messages_change_nothing() -> None:
    state = feed(SeqState(), (1, 1), (2, 2), (3, 3))
    feed(state, (2, 2), (1, 1), (3, 3))
    assert (state.last_seq, state.last_seen, state.lost) == (3, T0 + timedelta(seconds=3), 0)


def test_counter_reset_or_absurd_jump_is_not_a_loss() -> None:
    state = feed(SeqState(), (5000, 1), (0, 2), (1, 3))  # device rebooted
    feed(state, (10**9, 4))  # firmware bug
    feed(state, (10**9 + 1, 500))
    assert (state.last_seq, state.lost, state.missing) == (10**9 + 1, 0, [])


def test_open_ranges_are_bounded() -> None:
    state = SeqState()
    feed(state, *((2 * i, i) for i in range(MAX_RANGES + 6)))  # every other seq missing
    assert len(state.missing) == 3 * MAX_RANGES
    assert state.lost == 5  # the oldest ranges beyond the bound are counted at once


def test_messages_sharing_a_timestamp_are_ordered_by_seq() -> None:
    # Two events in the same millisecond (an NVR's disk failure and recording stop), in either
    # order within the batch: neither is taken for a redelivery, so no gap opens.
    for order in ((2, 3), (3, 2)):
        state = SeqState()
        state.observe(T0, 1)
        for seq in order:
            state.observe(T0 + timedelta(seconds=5), seq)
        feed(state, (4, 6), (5, 200))
        assert (state.last_seq, state.lost, state.missing) == (5, 0, []), order
    state = feed(SeqState(), (1, 1), (1, 1), (2, 2))  # a true redelivery changes nothing
    assert (state.last_seq, state.lost, state.missing) == (2, 0, [])
