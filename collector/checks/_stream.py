"""Long-lived multipart event streams (Hikvision alertStream, Dahua eventManager attach).

The device writes a part per event and a heartbeat part every few seconds (Hikvision repeats
``videoloss``/``inactive`` about every second, Dahua writes ``Heartbeat``), so silence longer
than ``heartbeat_timeout_s`` means the stream is dead: reconnect with exponential backoff.
Events that never end are cleared by the check's tracker after ``event_clear_s``. A part that
cannot be read costs only itself: it becomes a ``camera_event`` with the reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from pydantic import Field

from collector.checks._events import EventTracker
from collector.checks.base import (
    Check,
    CheckError,
    CheckParams,
    Emit,
    EventOut,
    Reconnect,
    Sample,
    Target,
)
from collector.protocols import xmlsafe
from collector.protocols.errors import ProtocolError
from collector.protocols.http import DigestClient
from collector.protocols.multipart import MultipartError, MultipartReader, Part, boundary_of

log = logging.getLogger(__name__)

BAD_PART_REPORT_S = 60.0
PartParser = Callable[[EventTracker, Part, float], list[EventOut]]


class StreamParams(CheckParams):
    """Parameters of an HTTP camera/NVR check with an event stream (Hikvision, Dahua)."""

    port: int = Field(80, ge=1, le=65535)
    username: str = Field("admin", min_length=1, max_length=64)
    password_env: str = Field(min_length=1, max_length=128)
    https: bool = False
    verify_tls: bool = False
    nvr: bool | None = None  # None: decided by the device's type
    timeout_s: float = Field(10.0, gt=0, le=120)
    heartbeat_timeout_s: float = Field(30.0, gt=0)  # silence after which we reconnect
    event_clear_s: float = Field(120.0, gt=0)  # clear events that never say "inactive"
    max_backoff_s: float = Field(60.0, gt=0)


class StreamingCheck(Protocol):
    """What a check needs to own an event stream."""

    target: Target
    client: DigestClient
    tracker: EventTracker
    stream_alive: bool

    @property
    def params(self) -> StreamParams: ...


class EventStreamCheck(Check):
    """A camera/NVR check with a multipart event stream (Hikvision, Dahua): how the scheduler
    reconnects it and what it emits when the stream drops."""

    params: StreamParams
    tracker: EventTracker
    stream_alive: bool

    @property
    def reconnect(self) -> Reconnect:
        # Up twice its heartbeat timeout is healthy.
        p = self.params
        return Reconnect(max_s=p.max_backoff_s, healthy_s=2 * p.heartbeat_timeout_s)

    def stream_dropped(self) -> Sample | None:
        """Events the stream opened and can no longer clear, cleared by timeout."""
        self.stream_alive = False
        events = self.tracker.expire()
        return Sample(events=events) if events else None


async def run_event_stream(check: StreamingCheck, path: str, parse: PartParser, emit: Emit) -> None:
    """One connection to ``path``: emit the events its parts start or end, until it drops
    (CheckError with the reason; the scheduler reconnects)."""
    try:
        await _one_connection(check, path, parse, emit)
    except (MultipartError, xmlsafe.XmlError) as exc:
        raise CheckError(f"{path}: unreadable stream: {exc}", kind="parse") from None
    except ProtocolError as exc:
        raise CheckError(f"{path}: {exc.reason}", kind=exc.kind) from None
    except CheckError as exc:
        raise CheckError(f"{path}: {exc.reason}", kind=exc.kind) from None
    raise CheckError(f"{path}: stream ended", kind="disconnected")


async def _one_connection(check: StreamingCheck, path: str, parse: PartParser, emit: Emit) -> None:
    p = check.params
    async with check.client.open_stream(path, p.timeout_s) as resp:
        reader = MultipartReader(boundary_of(resp.headers.get("content-type", "")))
        queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(maxsize=64)
        pump = asyncio.create_task(_pump(resp.aiter_raw(), queue))
        check.stream_alive = True
        log.info("%s %s open", check.target.device_id, path)
        tick = min(p.heartbeat_timeout_s, p.event_clear_s, 5.0)
        last_data = time.monotonic()
        try:
            await _read_loop(check, parse, emit, reader, queue, tick, last_data)
        finally:
            pump.cancel()
            # Let the reader finish before the response closes under it.
            await asyncio.gather(pump, return_exceptions=True)


async def _pump(
    chunks: AsyncIterator[bytes], queue: asyncio.Queue[bytes | BaseException | None]
) -> None:
    # Reads happen in their own task so a timed-out wait never cancels a read mid-chunk.
    try:
        async for chunk in chunks:
            await queue.put(chunk)
        await queue.put(None)
    except Exception as exc:  # httpx read errors: the device dropped us
        await queue.put(exc)


async def _read_loop(
    check: StreamingCheck,
    parse: PartParser,
    emit: Emit,
    reader: MultipartReader,
    queue: asyncio.Queue[bytes | BaseException | None],
    tick: float,
    last_data: float,
) -> None:
    p = check.params
    last_bad, bad = -BAD_PART_REPORT_S, 0
    while True:
        try:
            item = await asyncio.wait_for(queue.get(), timeout=tick)
        except TimeoutError:
            item = b""
        if item is None:
            return
        if isinstance(item, BaseException):
            raise CheckError(f"event stream dropped: {type(item).__name__}", kind="disconnected")
        chunk = item
        now = time.monotonic()
        events: list[EventOut] = []
        if chunk:
            last_data = now
            for part in reader.feed(chunk):
                try:
                    events.extend(parse(check.tracker, part, now))
                except (xmlsafe.XmlError, ValueError) as exc:
                    # One bad part costs only itself: reported (at most once a minute per
                    # stream, with the count of the others), the stream goes on.
                    bad += 1
                    if now - last_bad >= BAD_PART_REPORT_S:
                        events.append(
                            EventOut(
                                "camera_event",
                                "warning",
                                {"raw_type": "unparseable", "reason": str(exc)[:200], "parts": bad},
                            )
                        )
                        last_bad, bad = now, 0
        elif now - last_data > p.heartbeat_timeout_s:
            raise CheckError(
                f"event stream silent for {p.heartbeat_timeout_s:g} s (no heartbeat)",
                kind="timeout",
            )
        events.extend(check.tracker.expire(now))
        if events:
            emit(Sample(events=events))
