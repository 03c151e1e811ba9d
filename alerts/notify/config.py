"""The routes file (``IOC_ALERTS_CONFIG``): receivers, routes, grouping and escalation.

Each channel's block is defined beside the channel (``alerts.notify.channels.<kind>``);
this module composes them into receivers.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from alerts.notify.channels.base import ChannelConfig
from alerts.notify.channels.console import ConsoleConfig
from alerts.notify.channels.smtp import EmailConfig
from alerts.notify.channels.telegram import TelegramConfig
from alerts.notify.channels.webhook import WebhookConfig
from alerts.notify.channels.zalo import ZaloChannelConfig
from ioc import yamlfile
from ioc.durations import Duration
from ioc.errors import ConfigError
from ioc.ops.matchers import Matcher, cheap_first


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Receiver(Strict):
    """A named destination with exactly one channel.

    Its channel fields are THE list of channel kinds: a new channel is its module in
    ``alerts/notify/channels/`` (config model beside the implementation) plus one field here.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    language: Literal["vi", "en"] | None = None
    webhook: WebhookConfig | None = None
    email: EmailConfig | None = None
    telegram: TelegramConfig | None = None
    console: ConsoleConfig | None = None
    zalo: ZaloChannelConfig | None = None

    @model_validator(mode="after")
    def _one_channel(self) -> Receiver:
        given = [c for c in CHANNELS if getattr(self, c)]
        if len(given) != 1:
            raise ValueError(
                f"receiver {self.name!r} needs exactly one of {', '.join(CHANNELS)} "
                f"(got {', '.join(given) or 'none'})"
            )
        return self

    @property
    def channel(self) -> str:
        """The channel kind of this receiver."""
        for kind in CHANNELS:
            if getattr(self, kind) is not None:
                return kind
        raise AssertionError("validated receiver without channel")

    @property
    def channel_config(self) -> ChannelConfig:
        """The receiver's one channel block (it builds the channel)."""
        found: ChannelConfig = getattr(self, self.channel)
        return found


# Every field of a receiver but these names a channel kind.
CHANNELS = tuple(name for name in Receiver.model_fields if name not in ("name", "language"))


class EscalationStep(Strict):
    """Notify ``receiver`` when a firing alert is unacknowledged ``after`` it fired."""

    after: Duration
    receiver: str


class Timing(Strict):
    """Grouping knobs (Alertmanager semantics)."""

    group_by: list[str] = ["commune"]
    group_wait: Duration = timedelta(seconds=2)
    group_interval: Duration = timedelta(minutes=5)
    repeat_interval: Duration = timedelta(hours=4)
    # Not in Alertmanager: a new root cause of these severities in a group notified a moment
    # ago waits only this long after the group's previous message, not group_interval.
    critical_interval: Duration = timedelta(seconds=5)
    urgent_severities: list[Literal["critical", "warning", "info"]] = ["critical"]
    # Not in Alertmanager: an alert that fired and resolved before a message carried it is
    # reported once as self-resolved, unless it lasted less than this.
    min_reported: Duration = timedelta(0)


class Route(Strict):
    """Alerts matching all ``matchers`` go to ``receiver``; routes are tried in order."""

    name: str | None = None
    receiver: str
    matchers: Annotated[list[Matcher], AfterValidator(cheap_first)] = []
    continue_: bool = Field(False, alias="continue")
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    critical_interval: Duration | None = None
    urgent_severities: list[Literal["critical", "warning", "info"]] | None = None
    min_reported: Duration | None = None
    escalation: list[EscalationStep] = []

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class NotifyConfig(Strict):
    """The whole routes file."""

    language: Literal["vi", "en"] | None = None
    defaults: Timing = Timing()
    receivers: list[Receiver] = Field(min_length=1)
    routes: list[Route] = []
    default_receiver: str | None = None

    @model_validator(mode="after")
    def _references(self) -> NotifyConfig:
        names = [r.name for r in self.receivers]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"receiver names must be unique: {', '.join(sorted(dupes))}")
        for i, route in enumerate(self.routes):
            where = f"routes[{i}] ({route.name or route.receiver})"
            for field, ref in [("receiver", route.receiver)] + [
                (f"escalation[{j}].receiver", s.receiver) for j, s in enumerate(route.escalation)
            ]:
                if ref not in names:
                    raise ValueError(f"{where}: {field} {ref!r} is not a defined receiver")
            afters = [s.after for s in route.escalation]
            if afters != sorted(afters):
                raise ValueError(f"{where}: escalation steps must have increasing 'after'")
        for r in self.receivers:
            fallback = r.zalo.fallback if r.zalo else None
            target = self.receiver(fallback) if fallback else None
            if fallback and (target is None or target.zalo is not None):
                raise ValueError(
                    f"receiver {r.name!r}: zalo.fallback {fallback!r} must name a receiver "
                    "of another channel"
                )
        if self.default_receiver is not None and self.default_receiver not in names:
            raise ValueError(f"default_receiver {self.default_receiver!r} is not a receiver")
        route_names = [name for name, _ in self.named_routes()]
        if len(set(route_names)) != len(route_names):
            raise ValueError("route names must be unique (give routes a 'name')")
        return self

    # Computed once: the planner asks for every alert on every tick.
    _named: list[tuple[str, Route]] | None = PrivateAttr(None)
    _timings: dict[int, Timing] = PrivateAttr(default_factory=dict)

    def named_routes(self) -> list[tuple[str, Route]]:
        """Routes with their stable names; the default route comes last."""
        if self._named is None:
            named = [(r.name or f"{i}-{r.receiver}", r) for i, r in enumerate(self.routes)]
            if self.default_receiver:
                named.append(("default", Route(receiver=self.default_receiver)))
            self._named = named
        return self._named

    def timing(self, route: Route) -> Timing:
        """The route's grouping knobs, falling back to ``defaults``."""
        found = self._timings.get(id(route))
        if found is not None:
            return found
        d = self.defaults
        found = Timing(
            **{
                knob: getattr(route, knob) if getattr(route, knob) is not None else value
                for knob, value in d
            }
        )
        if any(route is r for _, r in self.named_routes()):
            self._timings[id(route)] = found  # only routes we keep alive: ids stay unique
        return found

    def receiver(self, name: str) -> Receiver | None:
        """The receiver called ``name``, if defined."""
        return next((r for r in self.receivers if r.name == name), None)

    def channel_of(self, name: str) -> str:
        """The channel kind of receiver ``name`` (``unknown`` when it is not defined)."""
        found = self.receiver(name)
        return found.channel if found else "unknown"

    def language_of(self, name: str, default: str) -> str:
        """Message language: the receiver's, else the file's, else ``default``."""
        found = self.receiver(name)
        return (found and found.language) or self.language or default


def default_config() -> NotifyConfig:
    """Used without ``IOC_ALERTS_CONFIG``: every alert to a console receiver."""
    return NotifyConfig(
        receivers=[Receiver(name="console", console=ConsoleConfig())],
        default_receiver="console",
    )


def load_config(path: Path | None) -> NotifyConfig:
    """Read and validate the routes file; errors name the route, receiver and field."""
    if path is None:
        return default_config()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read IOC_ALERTS_CONFIG {path}: {exc}") from exc
    try:
        doc = yamlfile.parse(text, str(path))
    except yamlfile.YamlFileError as exc:
        raise ConfigError(f"cannot read IOC_ALERTS_CONFIG {exc.problem}") from exc
    try:
        return NotifyConfig.model_validate(doc.data or {})
    except ValidationError as exc:
        raise ConfigError(f"invalid IOC_ALERTS_CONFIG {path}:\n{_explain(exc, doc)}") from exc


def _explain(exc: ValidationError, doc: yamlfile.Document) -> str:
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc) or "(file)"
        name = _named(doc.data, loc)
        located = f"{doc.source}:{doc.line(tuple(loc)) or 1}"
        lines.append(f"  {located}: {where}{f' ({name})' if name else ''}: {err['msg']}")
    return "\n".join(lines)


def _named(data: Any, loc: list[Any]) -> str | None:
    """The ``name`` (or receiver) of the receiver/route an error location points into."""
    if len(loc) >= 2 and loc[0] in ("receivers", "routes") and isinstance(loc[1], int):
        try:
            item = data[loc[0]][loc[1]]
        except (KeyError, IndexError, TypeError):
            return None
        if isinstance(item, dict):
            value = item.get("name") or item.get("receiver")
            return f"{loc[0][:-1]} {value!r}" if value else None
    return None
