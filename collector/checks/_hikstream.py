"""Hikvision ``/ISAPI/Event/notification/alertStream``: one long multipart response of events.

The devices write an ``EventNotificationAlert`` part per event and repeat ``videoloss`` /
``inactive`` about every second as a heartbeat, so silence longer than
``heartbeat_timeout_s`` means the stream is dead: reconnect with exponential backoff. Events
that never send ``inactive`` are cleared by the tracker after ``event_clear_s``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from collector import xmlsafe
from collector.checks import _hikxml
from collector.checks._events import EventTracker
from collector.checks.base import CheckError, Emit, EventOut, Sample
from collector.multipart import MultipartError, MultipartReader, Part, boundary_of

if TYPE_CHECKING:
    from collector.checks.hikvision import HikvisionCheck

log = logging.getLogger(__name__)

PATH = "/ISAPI/Event/notification/alertStream"


def events_of_part(tracker: EventTracker, part: Part, now: float | None = None) -> list[EventOut]:
    """The events one multipart part (or one pushed body) starts or ends; images are skipped."""
    ctype = part.content_type
    if ctype and "xml" not in ctype and "text" not in ctype:
        return []  # pictures attached to an event
    return events_of_xml(tracker, part.body, now)


def events_of_xml(tracker: EventTracker, body: bytes, now: float | None = None) -> list[EventOut]:
    """Parse one EventNotificationAlert; XmlError when it is not one."""
    alert = _hikxml.alert(xmlsafe.parse(body, max_bytes=64_000))
    out = tracker.update(alert.type, alert.channel, alert.active, alert.data, ts=alert.ts, now=now)
    return [out] if out is not None else []


async def run_alert_stream(check: HikvisionCheck, emit: Emit) -> None:
    """Keep the alert stream open forever; emit events; reconnect with backoff."""
    backoff = 1.0
    p = check.params
    while True:
        started = time.monotonic()
        try:
            await _one_connection(check, emit)
            reason = "stream ended"
        except CheckError as exc:
            reason = exc.reason
        except (MultipartError, xmlsafe.XmlError) as exc:
            reason = f"unreadable stream: {exc}"
        check.stream_alive = False
        if time.monotonic() - started > 2 * p.heartbeat_timeout_s:
            backoff = 1.0  # it had been healthy for a while: start over
        delay = min(backoff, p.max_backoff_s) * (0.5 + random.random() / 2)
        log.warning(
            "%s alertStream: %s; reconnect in %.1f s", check.target.device_id, reason, delay
        )
        for ev in check.tracker.expire():
            emit(Sample(events=[ev]))
        await asyncio.sleep(delay)
        backoff = min(backoff * 2, p.max_backoff_s)


async def _one_connection(check: HikvisionCheck, emit: Emit) -> None:
    p = check.params
    async with check.client.open_stream(PATH, p.timeout_s) as resp:
        reader = MultipartReader(boundary_of(resp.headers.get("content-type", "")))
        queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(maxsize=64)
        pump = asyncio.create_task(_pump(resp.aiter_raw(), queue))
        check.stream_alive = True
        log.info("%s alertStream open", check.target.device_id)
        tick = min(p.heartbeat_timeout_s, p.event_clear_s, 5.0)
        last_data = time.monotonic()
        try:
            await _read_loop(check, emit, reader, queue, tick, last_data)
        finally:
            pump.cancel()


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
    check: HikvisionCheck,
    emit: Emit,
    reader: MultipartReader,
    queue: asyncio.Queue[bytes | BaseException | None],
    tick: float,
    last_data: float,
) -> None:
    p = check.params
    while True:
        try:
            item = await asyncio.wait_for(queue.get(), timeout=tick)
        except TimeoutError:
            item = b""
        if item is None:
            return
        if isinstance(item, BaseException):
            raise CheckError(f"alertStream dropped: {type(item).__name__}", kind="disconnected")
        chunk = item
        now = time.monotonic()
        events: list[EventOut] = []
        if chunk:
            last_data = now
            for part in reader.feed(chunk):
                try:
                    events.extend(events_of_part(check.tracker, part, now))
                except xmlsafe.XmlError as exc:
                    # One bad part costs only itself: reported, the stream goes on.
                    events.append(
                        EventOut(
                            "camera_event",
                            "warning",
                            {"raw_type": "unparseable", "reason": str(exc)[:200]},
                        )
                    )
        elif now - last_data > p.heartbeat_timeout_s:
            raise CheckError(
                f"alertStream silent for {p.heartbeat_timeout_s:g} s (no heartbeat)", kind="timeout"
            )
        events.extend(check.tracker.expire(now))
        if events:
            emit(Sample(events=events))
