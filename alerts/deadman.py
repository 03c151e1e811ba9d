"""Dead man's switch: the leading engine pings receivers outside the server every minute.

The healthchecks.io protocol (also accepted by self-hosted healthchecks, Uptime Kuma push
monitors and Better Stack heartbeats): ``GET <url>`` = alive, ``<url>/start`` when the
engine starts, ``<url>/fail`` when its last evaluation failed. The receiver pages when the
pings stop, which is exactly what the box itself cannot do when it dies. A ping never blocks
or fails the evaluation: it runs as its own job with a short timeout and only logs errors.
"""

from __future__ import annotations

import logging

import httpx

log = logging.getLogger(__name__)


class Heartbeat:
    """Pings every configured URL; errors are logged, never raised."""

    def __init__(self, urls: list[str], timeout_s: float) -> None:
        self.urls = [u.rstrip("/") for u in urls if u]
        self.client = httpx.Client(timeout=timeout_s, follow_redirects=True)
        self.leading = False  # whether /start was sent for the current leadership
        self.sent = 0
        self.failed = 0

    def __bool__(self) -> bool:
        return bool(self.urls)

    def ping(self, signal: str = "") -> None:
        """``signal``: "" (alive), "start" or "fail"."""
        for url in self.urls:
            target = f"{url}/{signal}" if signal else url
            try:
                self.client.get(target).raise_for_status()
                self.sent += 1
            except httpx.HTTPError as exc:
                self.failed += 1
                log.warning("heartbeat to %s failed: %s", _redact(url), exc)

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()


def _redact(url: str) -> str:
    """Check URLs carry their token in the path: log only the host."""
    return httpx.URL(url).host or "?"
