"""Logging configured once, by the command line."""

from __future__ import annotations

import logging

from ioc import redact


def configure(level: str = "INFO") -> None:
    """Send log records to stderr with timestamps; quiet chatty libraries."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    for noisy in ("apscheduler", "yoyo", "httpx", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    redact.install()  # no secret in any log line
