"""At most one event per key per interval: floods (bad pushes, a check whose error text changes
every poll) become a bounded number of events plus a count, never one event per request."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class Throttle:
    """Per-key minimum interval between allowed events; remembers at most ``max_keys`` keys
    (random peers cannot grow it without bound) and counts what it held back."""

    def __init__(
        self,
        interval_s: float,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = interval_s
        self.max_keys = max_keys
        self.clock = clock
        self._last: OrderedDict[Hashable, float] = OrderedDict()
        self.suppressed = 0

    def allow(self, key: Hashable) -> bool:
        """True when ``key`` had no allowed event within the interval (and records this one)."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self.suppressed += 1
            return False
        self._last[key] = now
        self._last.move_to_end(key)
        while len(self._last) > self.max_keys:
            self._last.popitem(last=False)
        return True

    def forget(self, key: Hashable) -> None:
        """The next event of ``key`` is allowed at once (its condition ended)."""
        self._last.pop(key, None)
