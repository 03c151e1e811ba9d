"""Scheduled broadcasts: every loudspeaker cluster plays 06:00 and 17:00 and reports each one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from simulators.clock import format_ts, local_time
from simulators.models.speaker import SpeakerModel

if TYPE_CHECKING:
    from simulators.device import SimDevice
    from simulators.world import World

BROADCAST_HOURS = (6, 17)
BROADCAST_LENGTH = 1800.0


def slot_after(t: float, step: int = 1) -> float:
    """The next (``step=1``) or previous (``step=-1``) scheduled slot, local time."""
    hour, _, _ = local_time(t)
    day_start = round(t - hour * 3600)
    slots = [day_start + (h + 24 * d) * 3600 for d in (-1, 0, 1) for h in BROADCAST_HOURS]
    if step > 0:
        return min(s for s in slots if s > t + 1e-6)
    return max(s for s in slots if s <= t)


def schedule_id(t: float) -> str:
    """``YYYYMMDD-HH00`` of a slot in local time."""
    return format_ts(t)[:10].replace("-", "") + f"-{format_ts(t)[11:13]}00"


class Broadcasts:
    """Per-commune daily programme, plus ad-hoc bulletins (emergency broadcasts)."""

    def __init__(self, world: World) -> None:
        self.world = world

    def begin(self, start: float) -> None:
        """Queue each commune's next slot; speakers report their last programme on start.

        A cluster's controller sends its latest broadcast log entry when it connects, so a
        short run still shows the outcome of the most recent scheduled programme.
        """
        for commune in self.world.communes:
            speakers = [
                d for d in self.world.devices.values()
                if d.commune == commune and d.type == "speaker"
            ]  # fmt: skip
            self.world.at(slot_after(start), self._slot(speakers))
            last = slot_after(start, -1)
            for speaker in speakers:
                if isinstance(speaker.model, SpeakerModel):
                    kind, severity, data = speaker.model.outcome(last, schedule_id(last), "normal")
                    self.world.at(start, self._report(speaker, kind, severity, data, last))

    def _slot(self, speakers: list[SimDevice]) -> Callable[[float], None]:
        def broadcast(t: float) -> None:
            self.world.at(slot_after(t), broadcast)
            self.play(speakers, t, schedule_id(t), "normal", BROADCAST_LENGTH)

        return broadcast

    def _report(
        self, device: SimDevice, kind: str, severity: str | None, data: dict[str, Any],
        stamp: float | None = None,
    ) -> Callable[[float], None]:  # fmt: skip
        return lambda t: self.world.event(device, t, kind, severity, data, stamp)

    def play(
        self, speakers: Iterable[SimDevice], t: float, sid: str, priority: str, length: float
    ) -> None:
        """Every live speaker attempts the programme and reports it (late ones when they start)."""
        for speaker in speakers:
            if not speaker.alive or not isinstance(speaker.model, SpeakerModel):
                continue
            kind, severity, data = speaker.model.broadcast(t, sid, priority, length)
            delay = float(data.get("delay_s", 0))
            if delay:
                self.world.at(t + delay, self._report(speaker, kind, severity, data))
            else:
                self.world.event(speaker, t, kind, severity, data)
