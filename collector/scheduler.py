"""Runs every check of every watched device on its interval, with jitter, on one event loop.

A poll is bounded by its interval; whatever goes wrong (CheckError, timeout, a bug in a check)
costs only that poll and becomes a ``check_error`` state of that device: an event on the
transition (with the reason), ``check_recovered`` when it answers again, never a stalled loop.
A failing check whose reason keeps changing (a counter, a port in the text) makes one event
when it starts failing and at most one more per ``repeat_s``, not one per poll.

Pushes (webhooks, alarm-host posts) go through :meth:`Scheduler.pushed` and
:meth:`Scheduler.push_failed`: they never change a poll check's health (a forged push cannot
mark a failing camera healthy), and their errors are at most one event per device per
``repeat_s``, all of them counted (``push_errors`` in the heartbeat).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from collector.checks.base import Check, CheckError, Emit, EventOut, Sample, Secrets
from collector.inventory import WatchedDevice
from collector.registry import REGISTRY
from collector.throttle import Throttle

log = logging.getLogger(__name__)

Record = Callable[[Check, Sample], None]


@dataclass
class Health:
    """What the heartbeat reports about polling."""

    lags: deque[float] = field(default_factory=lambda: deque(maxlen=5000))
    polled: dict[str, float] = field(default_factory=dict)  # device → monotonic of last answer
    errors: dict[tuple[str, str], str] = field(default_factory=dict)  # (device, check) → reason
    polls: int = 0
    push_errors: int = 0  # pushes refused or unreadable, since the start

    def lag_p99(self) -> float:
        """99th percentile of how late polls started (seconds)."""
        if not self.lags:
            return 0.0
        ordered = sorted(self.lags)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]

    def devices_polled(self, within_s: float) -> int:
        """Devices that answered at least one check within the last ``within_s``."""
        cutoff = time.monotonic() - within_s
        return sum(1 for t in self.polled.values() if t >= cutoff)


def build_checks(devices: Iterable[WatchedDevice], secrets: Secrets) -> list[Check]:
    """Instantiate every planned check."""
    return [
        REGISTRY[planned.name](device.target, planned.params, secrets)
        for device in devices
        for planned in device.checks
    ]


async def keep_streaming(
    check: Check, emit: Emit, failed: Callable[[Check, str, str], None]
) -> None:
    """The collector's one reconnect policy (:class:`collector.checks.base.Reconnect`): run
    ``check.stream`` (one connection) again whenever it ends, after an exponential backoff from
    1 s with jitter up to ``reconnect.max_s``; a stream that was up ``reconnect.healthy_s``
    starts over at 1 s. A dropped stream is logged, not a ``check_error`` (the poll says whether
    the device answers); a bug in a stream is (``failed``), costing only this device."""
    backoff = 1.0
    who = f"{check.target.device_id} {check.name} stream"
    while True:
        started = time.monotonic()
        level, reason = logging.WARNING, "ended"
        try:
            await check.stream(emit)
            level = logging.INFO
        except CheckError as exc:
            reason = exc.reason
        except Exception as exc:
            log.exception("%s failed", who)
            failed(check, "internal", f"{type(exc).__name__}: {exc}"[:200])
            reason = "internal error"
        policy = check.reconnect
        if time.monotonic() - started > policy.healthy_s:
            backoff = 1.0  # it had been healthy for a while: start over
        delay = min(backoff, policy.max_s) * (0.5 + random.random() / 2)
        log.log(level, "%s: %s; reconnect in %.1f s", who, reason, delay)
        if (sample := check.stream_dropped()) is not None:
            emit(sample)
        await asyncio.sleep(delay)
        backoff = min(backoff * 2, policy.max_s)


class Scheduler:
    """One task per polling check; results go to ``record``."""

    def __init__(
        self,
        checks: list[Check],
        record: Record,
        jitter: float = 0.1,
        scrub: Callable[[str], str] = str,
        repeat_s: float = 300.0,
    ) -> None:
        self.checks = checks
        self.record = record
        self.jitter = jitter
        self.scrub = scrub
        self.health = Health()
        self.repeats = Throttle(repeat_s)
        self.push_throttle = Throttle(repeat_s)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    async def run(self) -> None:
        """Poll until cancelled."""
        self._tasks = [
            asyncio.create_task(self._loop(c), name=f"{c.target.device_id}/{c.name}")
            for c in self.checks
            if c.polls
        ]
        self._tasks += [
            asyncio.create_task(self._stream(c), name=f"{c.target.device_id}/{c.name}/stream")
            for c in self.checks
            if c.streams
        ]
        try:
            if self._tasks:
                await asyncio.gather(*self._tasks)
            else:  # only receiving checks: nothing to poll, but keep running
                await asyncio.Event().wait()
        finally:
            self._stopping = True
            # Python 3.11's wait_for (used inside icmplib and others) can swallow a
            # cancellation that races with a completed read: cancel until every task is done.
            pending = set(self._tasks)
            while pending:
                for task in pending:
                    task.cancel()
                _, pending = await asyncio.wait(pending, timeout=0.5)
            for check in self.checks:
                try:
                    await check.close()
                except Exception:
                    log.debug("closing %s failed", check.name, exc_info=True)

    async def _loop(self, check: Check) -> None:
        loop = asyncio.get_running_loop()
        interval = check.interval_s
        due = loop.time() + random.uniform(0, interval)  # spread the first polls
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            self.health.lags.append(max(0.0, loop.time() - due))
            await self.poll_once(check, timeout_s=max(1.0, interval * 0.9))
            if self._stopping:
                return
            due += interval * (1 + random.uniform(-self.jitter, self.jitter))
            if due < loop.time():
                due = loop.time()  # fell behind: poll now rather than in a burst

    async def _stream(self, check: Check) -> None:
        """Keep a check's notification stream open (:func:`keep_streaming`)."""
        await keep_streaming(check, lambda sample: self.succeeded(check, sample), self.failed)

    async def poll_once(self, check: Check, timeout_s: float) -> None:
        """One bounded poll whose result (or error) is recorded."""
        key = (check.target.device_id, check.name)
        self.health.polls += 1
        try:
            async with asyncio.timeout(timeout_s):
                sample = await check.poll()
        except CheckError as exc:
            self.failed(check, exc.kind, exc.reason)
            return
        except TimeoutError:
            self.failed(check, "timeout", f"no answer within {timeout_s:g} s")
            return
        except Exception as exc:  # a bug in a check must cost only this poll
            log.exception("check %s of %s failed unexpectedly", check.name, key[0])
            self.failed(check, "internal", f"{type(exc).__name__}: {exc}"[:200])
            return
        self.succeeded(check, sample)

    def succeeded(self, check: Check, sample: Sample) -> None:
        """Record a good answer (and the recovery from an error state)."""
        key = (check.target.device_id, check.name)
        self.health.polled[key[0]] = time.monotonic()
        self.repeats.forget(key)
        if self.health.errors.pop(key, None) is not None:
            log.info("%s: %s answers again", key[0], check.name)
            sample.events.append(EventOut("check_recovered", "info", {"check": check.name}))
        self.record(check, sample)

    def failed(self, check: Check, kind: str, reason: str) -> None:
        """Enter (or stay in) the check_error state; an event only on a change of reason."""
        key = (check.target.device_id, check.name)
        reason = self.scrub(reason)[:300]
        before = self.health.errors.get(key)
        self.health.errors[key] = f"{kind}: {reason}"
        if before == self.health.errors[key]:
            return
        if before is None:
            self.repeats.forget(key)
        if not self.repeats.allow(key):
            return  # still failing, in other words: the state changes, no event before repeat_s
        log.warning("%s: check %s failed (%s): %s", key[0], check.name, kind, reason)
        data = {"check": check.name, "kind": kind, "reason": reason}
        self.record(check, Sample(events=[EventOut("check_error", "warning", data)]))

    def pushed(self, check: Check, sample: Sample) -> None:
        """Record what a device pushed; a polling check's health is not touched. A check that
        only receives leaves its error state quietly (no event: a flood alternating good and
        bad pushes must not make an event per push)."""
        if not check.polls:
            key = (check.target.device_id, check.name)
            self.health.polled[key[0]] = time.monotonic()
            self.health.errors.pop(key, None)
        self.record(check, sample)

    def push_refused(self) -> None:
        """A push from no known device was refused: counted only (the route logs it)."""
        self.health.push_errors += 1

    def push_failed(self, check: Check, kind: str, reason: str) -> None:
        """A refused or unreadable push of a known device: counted always, at most one event
        per device per ``repeat_s``; never the error state of a polling check."""
        self.health.push_errors += 1
        reason = self.scrub(reason)[:300]
        if not check.polls:
            self.health.errors[(check.target.device_id, check.name)] = f"{kind}: {reason}"
        if not self.push_throttle.allow(check.target.device_id):
            return
        log.warning("%s: push refused (%s): %s", check.target.device_id, kind, reason)
        data = {"check": check.name, "kind": kind, "reason": reason, "source": "push"}
        self.record(check, Sample(events=[EventOut("check_error", "warning", data)]))
