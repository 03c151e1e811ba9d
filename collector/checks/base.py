"""What every check is: one kind of probe of one device, run on the collector's asyncio loop.

A check turns a device's answers into a :class:`Sample` (metrics, events, metadata facts). It
never publishes or stores anything itself: the scheduler stamps the sample with the device's
time and ``seq``, writes it to the outbox and publishes it through :mod:`ioc.contract`.

A device that answers garbage, 401, a slow drip or nothing raises :class:`CheckError` with a
reason; that costs only this check of this device (a ``check_error`` state, quarantined like a
bad payload), never the loop.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, ParamSpec, TypeVar

from pydantic import BaseModel, ConfigDict

from collector.protocols.errors import ProtocolError

Value = float | bool | str
Severity = Literal["info", "warning", "critical"]


class CheckError(Exception):
    """The device did not answer usefully; ``reason`` is one line safe to log and publish."""

    def __init__(self, reason: str, *, kind: str = "error") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind  # short machine word: timeout, refused, auth, parse, error, ...

    @classmethod
    def of(cls, exc: ProtocolError) -> CheckError:
        """A protocol client's error as this check's: same reason, same kind."""
        return cls(exc.reason, kind=exc.kind)


P = ParamSpec("P")
R = TypeVar("R")


def translates(
    fn: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Decorate a check's ``poll``/``stream``: protocol errors leave it as :class:`CheckError`."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except ProtocolError as exc:
            raise CheckError.of(exc) from None

    return wrapper


class CheckParams(BaseModel):
    """Parameters of one check in the inventory (each check subclasses this)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)
    interval_s: float | None = None  # None: the device's expected report interval


@dataclass(frozen=True, slots=True)
class Target:
    """The device a check probes, as the inventory describes it."""

    device_id: str
    type: str
    commune: str
    address: str
    interval_s: float


@dataclass(frozen=True, slots=True)
class EventOut:
    """An event the device reported (``type`` in the contract's event vocabulary)."""

    type: str
    severity: Severity | None = None
    data: dict[str, Any] = field(default_factory=dict)
    ts: float | None = None  # epoch seconds from the device, when it said; else poll time


@dataclass(slots=True)
class Sample:
    """What one poll (or one streamed notification) found."""

    metrics: dict[str, Value] = field(default_factory=dict)
    events: list[EventOut] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # model, serial, firmware, ...


Secrets = Callable[[str], str]  # resolves a secret's *name* (e.g. "CAM_PASS") to its value
Emit = Callable[[Sample], None]


@dataclass(frozen=True, slots=True)
class Reconnect:
    """A stream's reconnect policy: exponential backoff from 1 s with jitter, at most
    ``max_s``; a stream that stayed up ``healthy_s`` starts over at 1 s."""

    max_s: float = 60.0
    healthy_s: float = 60.0


class Check(ABC):
    """One probe of one device; subclasses set ``name`` and ``Params``."""

    name: ClassVar[str]
    Params: ClassVar[type[CheckParams]] = CheckParams

    def __init__(self, target: Target, params: CheckParams, secrets: Secrets) -> None:
        self.target = target
        self.params = params
        self.secrets = secrets

    @property
    def interval_s(self) -> float:
        """Seconds between polls: the check's own interval or the device's."""
        return self.params.interval_s or self.target.interval_s

    @property
    def polls(self) -> bool:
        """Whether the scheduler calls :meth:`poll` (a receive-only check does not)."""
        return True

    @abstractmethod
    async def poll(self) -> Sample:
        """Probe the device once; raise :class:`CheckError` when it does not answer usefully."""

    @property
    def streams(self) -> bool:
        """Whether the scheduler keeps :meth:`stream` running (event streams, subscriptions)."""
        return False

    @property
    def reconnect(self) -> Reconnect:
        """How the scheduler reconnects this check's stream."""
        return Reconnect()

    async def stream(self, emit: Emit) -> None:  # noqa: B027 - optional hook
        """One connection of a long-lived notification stream: return (or raise CheckError)
        when it ends; the scheduler reconnects (:func:`collector.scheduler.keep_streaming`)."""

    def stream_dropped(self) -> Sample | None:
        """What to emit when the stream ended (events it can no longer clear itself)."""
        return None

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and sockets."""
