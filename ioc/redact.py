"""Secrets never reach the logs: a filter that masks them in every record a handler emits.

Masked: passwords in URLs (``scheme://user:***@host``, a user part alone, which may be a
token, as ``scheme://***@host``), URL query and fragment parameters whose name looks secret
(:func:`secret_param`, e.g. ``?api_key=***``), bearer and basic credentials, Telegram bot
tokens (``bot123456:***``), ``password=`` / ``token: ...`` style pairs (also in JSON and libpq
connection strings) and Mosquitto ``$7$`` hashes.

This module is the one home of "what a secret in a text or URL looks like": the log filter,
the collector's event reasons and the registry import (:func:`url_problem`) all use it.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote_plus, urlsplit

MASK = "***"
# Parts of a URL parameter name that make it a secret (case-insensitive; a name is split at
# ``_``, ``-``, ``.`` and camelCase humps: ``X-Amz-Signature``, ``apiKey``, ``access_token``).
SECRET_PARAM_WORDS = frozenset(
    {"token", "key", "apikey", "password", "passwd", "pass", "pwd", "secret", "sig",
     "signature", "auth", "authorization", "credential", "credentials", "session", "sid",
     "jwt", "bearer", "otp", "hmac"}
)  # fmt: skip
# ... and substrings that do so anywhere in the name (``authtoken``, ``clientsecret``).
SECRET_PARAM_FRAGMENTS = ("token", "passw", "secret", "apikey", "signature", "credential")
_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_PARAM = re.compile(r"(?P<pre>[?&;#](?P<key>[^=&;#\s\"'<>]{1,100})=)(?P<value>[^&;#\s\"'<>]*)")
_KEYS = r"[\w-]*(?:password|passwd|pwd|secret|token|api[_-]?key|authorization)"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:password@host (also when the user part is empty)
    (
        re.compile(r"(?P<pre>\b[a-zA-Z][\w+.-]*://[^\s:/@]*:)[^\s@/]+(?P<post>@)"),
        r"\g<pre>***\g<post>",
    ),
    # scheme://token@host: a user part without a password may itself be the credential
    (
        re.compile(r"(?P<pre>\b[a-zA-Z][\w+.-]*://)(?!\*\*\*)[^\s:/@?#]+(?P<post>@)"),
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


def secret_param(name: str) -> bool:
    """Whether a URL parameter called ``name`` looks like it carries a secret."""
    parts = re.split(r"[^A-Za-z0-9]+", _HUMP.sub("_", name))
    lowered = name.lower()
    if any(p.lower() in SECRET_PARAM_WORDS for p in parts):
        return True
    squashed = re.sub(r"[^a-z0-9]", "", lowered)
    return any(f in squashed for f in SECRET_PARAM_FRAGMENTS)


def url_problem(url: str) -> str | None:
    """Why ``url`` may not be stored (a credential in it), or None: refuse user info
    (``user:password@``) and query or fragment parameters named like a secret."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    if "@" in parts.netloc:
        return "a URL may not carry a user or password (user:password@host); use the check's auth"
    for chunk in (parts.query, parts.fragment):
        for piece in re.split(r"[&;]", chunk):
            name = unquote_plus(piece.partition("=")[0])
            if name and secret_param(name):
                return (
                    f"the URL parameter {name[:40]!r} looks like a secret; secrets go by "
                    "name in the check's auth (token_env, password_env), never in a URL"
                )
    return None


def _mask_param(match: re.Match[str]) -> str:
    if match["value"] and match["value"] != MASK and secret_param(match["key"]):
        return match["pre"] + MASK
    return match[0]


def redact(text: str) -> str:
    """Return ``text`` with every recognised secret replaced by ``***``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _PARAM.sub(_mask_param, text)


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
