"""Lost-message detection from a device's `seq` numbers, tolerant of reordering.

A jump in `seq` opens a *missing range*. A late message inside the range (several ingest
workers commit out of order; a broker redelivers after a stall) fills it. A range still open
once the device's own clock has moved ``hold`` past the message that opened it is counted as
lost: ``lost`` is the number of sequence numbers that never arrived.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

MAX_RANGES = 32  # open ranges kept per device; beyond that the oldest is counted as lost
DEFAULT_HOLD_S = 60.0  # how long a missing seq may still arrive (IOC_INGEST_SEQ_GAP_HOLD_S)
MAX_JUMP = 1_000_000  # a larger jump is a counter reset or a firmware bug, not lost messages


def epoch_ms(ts: datetime) -> int:
    """Milliseconds since the Unix epoch."""
    return int(ts.timestamp() * 1000)


@dataclass(slots=True)
class SeqState:
    """One device's sequence bookkeeping (a row of `device_status`)."""

    last_seen: datetime | None = None  # newest device timestamp seen
    last_seq: int | None = None  # seq of that message
    lost: int = 0
    # Open ranges, flattened as [first, last, opened_ms, ...] (a `bigint[]` in the database).
    missing: list[int] = field(default_factory=list)

    def observe(self, ts: datetime, seq: int) -> None:
        """Account for one message; call in device-timestamp order within a batch."""
        if self.missing and self._fill(seq):
            if self.last_seen is None or ts > self.last_seen:
                self.last_seen = ts
            return
        if self.last_seen is not None and (ts, seq) <= (self.last_seen, self.last_seq or 0):
            # Older than what we know: redelivered or reordered, not a gap. Two messages may
            # share a timestamp (events in one millisecond): the sequence number orders them.
            return
        if self.last_seq is not None and 1 < seq - self.last_seq <= MAX_JUMP:
            self.missing += [self.last_seq + 1, seq - 1, epoch_ms(ts)]
        self.last_seen, self.last_seq = ts, seq

    def settle(self, hold_ms: int) -> None:
        """Count as lost the ranges opened more than ``hold_ms`` before the newest message."""
        if not self.missing or self.last_seen is None:
            return
        cutoff = epoch_ms(self.last_seen) - hold_ms
        kept: list[int] = []
        for i in range(0, len(self.missing), 3):
            first, last, opened = self.missing[i : i + 3]
            if opened <= cutoff:
                self.lost += last - first + 1
            else:
                kept += [first, last, opened]
        while len(kept) > 3 * MAX_RANGES:  # ranges are opened in time order: oldest first
            self.lost += kept[1] - kept[0] + 1
            del kept[:3]
        self.missing = kept

    def _fill(self, seq: int) -> bool:
        missing = self.missing
        for i in range(0, len(missing), 3):
            first, last, opened = missing[i : i + 3]
            if first <= seq <= last:
                parts = []
                if first < seq:
                    parts += [first, seq - 1, opened]
                if seq < last:
                    parts += [seq + 1, last, opened]
                missing[i : i + 3] = parts
                return True
        return False
