"""Secrets never reach the logs: a filter that masks them in every record a handler emits.

Masked: passwords in URLs (``scheme://user:***@host``), bearer and basic credentials,
Telegram bot tokens (``bot123456:***``), ``password=`` / ``token: ...`` style pairs (also in
JSON and libpq connection strings) and Mosquitto ``$7$`` hashes.
"""

from __future__ import annotations

import logging
import re
from typing import Any

MASK = "***"
_KEYS = r"[\w-]*(?:password|passwd|pwd|secret|token|api[_-]?key|authorization)"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:password@host (also when the user part is empty)
    (
        re.compile(r"(?P<pre>\b[a-zA-Z][\w+.-]*://[^\s:/@]*:)[^\s@/]+(?P<post>@)"),
        r"\g<pre>***\g<post>",
    ),
    # Telegram: https://api.telegram.org/bot<digits>:<secret>/sendMessage
    (re.compile(r"(?P<pre>\bbot\d{3,}:)[A-Za-z0-9_-]{10,}"), r"\g<pre>***"),
    # Authorization: Bearer <token> / Basic <b64>
    (re.compile(r"(?P<pre>\b(?:[Bb]earer|[Bb]asic)\s+)[A-Za-z0-9._~+/=-]{6,}"), r"\g<pre>***"),
    # password=..., "token": "...", api_key: ..., IOC_X_PASSWORD=...
    (
        re.compile(
            rf"(?P<pre>(?i:\b{_KEYS})[\"']?\s*[=:]\s*[\"']?)(?!\*\*\*)(?:[Bb]earer\s+)?[^\s\"'&,;}}]+"
        ),
        r"\g<pre>***",
    ),
    # Mosquitto password hashes
    (re.compile(r"\$7\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+"), "$7$***"),
)


def redact(text: str) -> str:
    """Return ``text`` with every recognised secret replaced by ``***``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message and exception text with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is still logged, just unformatted
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Mask secrets in every log record: at creation (covers handlers added later, such as
    uvicorn's) and on each handler of ``logger`` (default: root). Safe to call twice."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "ioc_redacting", False):
        scrub = RedactingFilter()

        def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = factory(*args, **kwargs)
            scrub.filter(record)
            return record

        redacting_factory.ioc_redacting = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(redacting_factory)
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
