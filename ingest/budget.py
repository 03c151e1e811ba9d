"""A per-device budget of quarantine rows: one device sending garbage costs itself, bounded.

Each registered device may put at most ``rows`` messages into quarantine per ``window_s``;
messages beyond are acknowledged and counted (``ioc_ingest_quarantine_over_budget``, by
reason) but not stored. Messages of no registered device (unknown ids, bad topics) share one
budget of ``rows`` × ``SHARED_FACTOR``; so do devices beyond the ``max_keys`` this process
tracks at once. Per ingest process.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

SHARED = "\x00shared"
SHARED_FACTOR = 10


class QuarantineBudget:
    """Fixed windows per device: ``admit`` says whether one more row may be stored."""

    def __init__(
        self,
        rows: int,
        window_s: float,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rows = rows
        self.window_s = window_s
        self.max_keys = max_keys
        self.clock = clock
        self._windows: OrderedDict[str, list[float]] = OrderedDict()  # key -> [start, count]

    def admit(self, device: str | None) -> bool:
        """Count one quarantine row of ``device``; False when its budget is spent."""
        key = device or SHARED
        if key not in self._windows and len(self._windows) >= self.max_keys:
            key = SHARED
        limit = self.rows * (SHARED_FACTOR if key == SHARED else 1)
        now = self.clock()
        window = self._windows.get(key)
        if window is None or now - window[0] >= self.window_s:
            window = [now, 0.0]
            self._windows[key] = window
            self._prune(now)
        self._windows.move_to_end(key)
        if window[1] >= limit:
            return False
        window[1] += 1
        return True

    def _prune(self, now: float) -> None:
        while self._windows:
            key, (start, _) = next(iter(self._windows.items()))
            if now - start < self.window_s and len(self._windows) <= self.max_keys:
                return
            del self._windows[key]
