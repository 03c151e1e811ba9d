"""What every channel shares: the outgoing note, the channel interface, delivery errors.

Each channel module holds its config model (the receiver's ``<kind>:`` block in the routes
file) beside its implementation; the config builds the channel (``ChannelConfig.build``).
The channel kinds are listed once, as the fields of ``config.Receiver``.

A channel says whether its failure is worth a retry, in the ``DeliveryError`` it raises:

DeliveryError
├── retryable=True   connection refused, timeouts, HTTP 5xx/408/429, SMTP 4xx: back off, retry
└── retryable=False  HTTP 4xx, SMTP 5xx, invalid address or config: recorded as 'failed'
"""

from __future__ import annotations

import email.utils
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

import httpx
from psycopg_pool import ConnectionPool

from alerts.notify.settings import NotifySetup
from alerts.notify.templates import Rendered
from ioc.errors import ConfigError


@dataclass(frozen=True)
class Outgoing:
    """One outbox row being delivered, with its rendered text."""

    id: int
    dedup_key: str
    receiver: str
    kind: str
    group_key: str
    payload: dict[str, Any]
    attempt: int
    language: str
    rendered: Rendered
    public_url: str


class DeliveryError(Exception):
    """Sending failed; ``retryable`` says whether a later attempt may succeed."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


class Channel(ABC):
    """A configured destination: ``send`` returns on success or raises ``DeliveryError``."""

    #: The receiver can drop a resent note by its key (webhooks get it in body and header),
    #: so a send interrupted by a crash may be retried without a visible duplicate.
    dedupes: ClassVar[bool] = False

    @abstractmethod
    def send(self, note: Outgoing) -> None:
        """Deliver one note."""

    def close(self) -> None:  # noqa: B027 - most channels hold nothing to release
        """Release connections."""


@dataclass(frozen=True)
class Context:
    """What building a channel may need besides its own config."""

    receiver: str
    settings: NotifySetup
    pool: ConnectionPool | None = None
    #: The channel kind of another receiver (None when it is not defined).
    channel_of: Callable[[str], str | None] = lambda _name: None

    def env(self, field: str, name: str) -> str:
        """A secret from the environment variable a config field names."""
        value = os.environ.get(name)
        if not value:
            raise ConfigError(
                f"receiver {self.receiver!r}: {field} names ${name}, which is not set"
            )
        return value


class ChannelConfig(Protocol):
    """A receiver's channel block: builds its channel (a missing secret is a ``ConfigError``)."""

    def build(self, ctx: Context) -> Channel:
        """The configured channel."""
        ...


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Parse an HTTP ``Retry-After`` header: seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def http_status_error(response: httpx.Response, what: str) -> DeliveryError:
    """Classify a non-2xx HTTP response."""
    code = response.status_code
    body = response.text[:200].replace("\n", " ")
    reason = f"{what} answered HTTP {code}: {body}".rstrip(": ")
    retryable = code >= 500 or code in (408, 425, 429)
    return DeliveryError(
        reason,
        retryable=retryable,
        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
    )


def http_transport_error(exc: httpx.HTTPError, what: str) -> DeliveryError:
    """Connection refused, DNS failure, timeout...: worth a retry; a bad URL is not."""
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return DeliveryError(f"{what}: invalid URL: {exc}", retryable=False)
    return DeliveryError(f"{what}: {type(exc).__name__}: {exc}", retryable=True)
