"""Rate limits with the `limits` library (moving window): API tokens, logins, Telegram links."""

from __future__ import annotations

import time

from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


class RateLimiter:
    """Counts hits per key (token id or client address) against every configured limit."""

    def __init__(self, spec: str, storage_uri: str = "memory://", namespace: str = "api") -> None:
        self.limits = parse_many(spec)
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self.namespace = namespace

    def _wait(self, item: object, key: str) -> int:
        reset = self.limiter.get_window_stats(item, self.namespace, key).reset_time  # type: ignore[arg-type]
        return max(1, int(reset - time.time()) + 1)

    def test(self, key: str) -> int | None:
        """Seconds to wait when one more hit would be over a limit, else None (counts nothing)."""
        for item in self.limits:
            if not self.limiter.test(item, self.namespace, key):
                return self._wait(item, key)
        return None

    def clear(self, key: str) -> None:
        """Forget the hits of ``key``."""
        for item in self.limits:
            self.limiter.clear(item, self.namespace, key)

    def hit(self, key: str) -> int | None:
        """Count one request; return seconds to wait when over a limit, else None."""
        for item in self.limits:
            if not self.limiter.hit(item, self.namespace, key):
                return self._wait(item, key)
        return None
