"""Pure decoding: (topic, payload, arrival time, registry) → rows to write, or a rejection.

No I/O here, so it can be fuzzed and reused (simulators, tests, benchmarks). Whole-message rule:
one bad reading or metric rejects the message, and the detail says which.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from ingest.reasons import Reason, Rejected
from ingest.registry import DeviceInfo, MetricInfo, RegistryView
from ioc.contract import CHANNELS, TOPIC_ROOT, Batch, Event, Reading, Status, parse_topic

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_EPOCH_MS = 253402300799999  # 9999-12-31T23:59:59.999Z

# (time, value, device_key, metric_id) — the column order of telemetry_points.
Point = tuple[datetime, float, int, int]
# (time, device_id, seq, type, severity, data as JSON text)
EventRow = tuple[datetime, str, int, str, str | None, str]


@dataclass(frozen=True, slots=True)
class Limits:
    """Validation limits taken from the settings."""

    max_payload_bytes: int = 65536
    max_future_s: float = 300.0
    retention_days: int = 30
    future: timedelta = field(init=False)  # the two limits above as timedeltas
    retention: timedelta = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "future", timedelta(seconds=self.max_future_s))
        object.__setattr__(self, "retention", timedelta(days=self.retention_days))


@dataclass(slots=True)
class Decoded:
    """The rows one valid message produces."""

    device: DeviceInfo
    channel: str
    points: list[Point] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    status: tuple[bool, datetime] | None = None
    keepalive_s: int | None = None  # from a JSON birth message
    seen: list[tuple[datetime, int]] = field(default_factory=list)  # (ts, seq) per reading


class _Reject(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def under_root(topic: str, root: str) -> bool:
    """Whether ``topic`` is meant for the contract's root (case and leading slashes aside)."""
    text = topic.lstrip("/").lower()
    low = root.lower()
    return text == low or text.startswith(low + "/")


def parse_ts(value: int | str, received_at: datetime, limits: Limits) -> datetime:
    """A timestamp from the wire: RFC 3339 with offset or epoch milliseconds, range-checked."""
    if isinstance(value, int):
        if not 0 <= value <= MAX_EPOCH_MS:
            raise _Reject(Reason.BAD_TIMESTAMP, f"epoch milliseconds out of range: {value}")
        ts = EPOCH + timedelta(milliseconds=value)
    else:
        if len(value) > 64 or len(value) < 16 or value[10:11] not in ("T", "t", " "):
            raise _Reject(Reason.BAD_TIMESTAMP, f"not an RFC 3339 date-time: {value[:64]!r}")
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            raise _Reject(
                Reason.BAD_TIMESTAMP, f"not an RFC 3339 date-time: {value[:64]!r}"
            ) from None
        if ts.tzinfo is None or ts.utcoffset() is None:
            raise _Reject(Reason.BAD_TIMESTAMP, f"timestamp without a timezone offset: {value!r}")
    ahead = ts - received_at
    if ahead > limits.future:
        raise _Reject(
            Reason.FUTURE_TIMESTAMP,
            f"timestamp {ts.isoformat()} is more than {limits.max_future_s:g} s ahead of "
            f"arrival {received_at.isoformat()}",
        )
    if -ahead > limits.retention:
        raise _Reject(
            Reason.TOO_OLD,
            f"timestamp {ts.isoformat()} is older than the {limits.retention_days}-day retention",
        )
    return ts


def metric_value(info: MetricInfo, raw: bool | float | str) -> float:
    """The stored number of one metric value, checked against the catalogue."""
    kind = info.kind
    if kind == "bool":
        if raw is True or raw is False:
            return 1.0 if raw else 0.0
        if not isinstance(raw, str) and raw in (0.0, 1.0):
            return float(raw)
        raise _Reject(
            Reason.BAD_VALUE, f"metric {info.name!r}: expected true/false/0/1, got {raw!r}"
        )
    if kind == "enum":
        if isinstance(raw, str) and raw in info.enum_index:
            return float(info.enum_index[raw])
        labels = ", ".join(info.enum_index)
        raise _Reject(
            Reason.BAD_VALUE, f"metric {info.name!r}: expected one of {labels}, got {raw!r}"
        )
    if isinstance(raw, bool | str):
        raise _Reject(Reason.BAD_VALUE, f"metric {info.name!r}: expected a number, got {raw!r}")
    if (info.min is not None and raw < info.min) or (info.max is not None and raw > info.max):
        raise _Reject(
            Reason.OUT_OF_RANGE,
            f"metric {info.name!r}: {raw!r} outside [{info.min}, {info.max}]",
        )
    return raw


class _NonFinite(Exception):
    pass


def _non_finite(token: str) -> None:
    raise _NonFinite(token)


def _validation_reject(exc: ValidationError, text: str) -> _Reject:
    errors = exc.errors(include_url=False, include_input=False)
    types = {e["type"] for e in errors}
    if "json_invalid" in types:
        # NaN / Infinity are not JSON; say so rather than "invalid JSON" when that is the cause.
        try:
            json.loads(text, parse_constant=_non_finite)
        except _NonFinite as token:
            return _Reject(Reason.INVALID_NUMBER, f"{token} is not a JSON number")
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's stack
            pass
        return _Reject(Reason.INVALID_JSON, errors[0]["msg"])
    if "finite_number" in types:
        where = next(e["loc"] for e in errors if e["type"] == "finite_number")
        return _Reject(Reason.INVALID_NUMBER, f"NaN or Infinity at {_loc(where)}")
    shown = "; ".join(f"{_loc(e['loc'])}: {e['msg']}" for e in errors[:3])
    return _Reject(
        Reason.SCHEMA, shown + (f" (+{len(errors) - 3} more)" if len(errors) > 3 else "")
    )


def _loc(loc: tuple[int | str, ...]) -> str:
    # Union members (float/bool/str) appear as trailing loc parts; they only add noise.
    parts = [str(p) for p in loc if p not in ("float", "bool", "str", "int")]
    return ".".join(parts) or "payload"


def _telemetry(
    out: Decoded, text: str, received_at: datetime, view: RegistryView, limits: Limits
) -> None:
    readings = (
        Batch.model_validate_json(text).readings
        if '"readings"' in text
        else [Reading.model_validate_json(text)]
    )
    type_metrics = view.metrics.get(out.device.type, {})
    key = out.device.key
    points = out.points
    for i, reading in enumerate(readings):
        try:
            ts = parse_ts(reading.ts, received_at, limits)
            for name, raw in reading.metrics.items():
                info = type_metrics.get(name)
                if info is None:
                    raise _Reject(
                        Reason.UNKNOWN_METRIC,
                        f"metric {name[:64]!r} is not a metric of type {out.device.type}",
                    )
                # The common case inline: a number for a gauge or counter, within range.
                raw_type = type(raw)
                if (
                    info.numeric
                    and (raw_type is float or raw_type is int)
                    and info.lo <= raw <= info.hi  # type: ignore[operator]
                ):
                    value = float(raw)
                else:
                    value = metric_value(info, raw)
                points.append((ts, value, key, info.id))
        except _Reject as rej:
            if len(readings) > 1:
                rej.detail = f"readings[{i}]: {rej.detail}"
            raise
        out.seen.append((ts, reading.seq))


def _event(
    out: Decoded, text: str, received_at: datetime, view: RegistryView, limits: Limits
) -> None:
    event = Event.model_validate_json(text)
    ts = parse_ts(event.ts, received_at, limits)
    if event.type not in view.events.get(out.device.type, frozenset()):
        raise _Reject(
            Reason.UNKNOWN_EVENT,
            f"event type {event.type!r} is not an event of type {out.device.type}",
        )
    try:
        data = json.dumps(event.data, allow_nan=False, ensure_ascii=False)
    except ValueError:
        raise _Reject(Reason.INVALID_NUMBER, "NaN or Infinity in data") from None
    if "\\u0000" in data:
        raise _Reject(Reason.SCHEMA, "data contains a NUL character")
    out.events.append((ts, out.device.id, event.seq, event.type, event.severity, data))
    out.seen.append((ts, event.seq))


def _status(out: Decoded, text: str, received_at: datetime, limits: Limits) -> None:
    plain = text.strip()
    if plain in ("online", "offline"):
        # A last will is composed when the device connects, so it cannot carry the time it is
        # sent: a plain status takes its arrival time.
        out.status = (plain == "online", received_at)
        return
    status = Status.model_validate_json(text)
    ts = received_at
    if status.ts is not None:
        try:
            ts = parse_ts(status.ts, received_at, limits)
        except _Reject as rej:
            if rej.reason not in (Reason.FUTURE_TIMESTAMP, Reason.TOO_OLD):
                raise
            # The state is what matters; a `ts` out of range only cannot date it (the writer
            # likewise dates implausible ones at arrival).
    out.status = (status.state == "online", ts)
    if status.state == "online":
        out.keepalive_s = status.keepalive_s


def decode(
    topic: str,
    payload: bytes,
    received_at: datetime,
    view: RegistryView,
    limits: Limits = Limits(),
    prefix: str = TOPIC_ROOT,
) -> Decoded | Rejected:
    """Decode and validate one MQTT message against the registry and the catalogue."""
    parts = parse_topic(topic, prefix)
    if parts is None:
        return Rejected(
            Reason.BAD_TOPIC,
            f"topic must be {prefix}/{{commune}}/{{device}}/{{{'|'.join(CHANNELS)}}}",
        )
    commune, device_id, channel = parts
    device = view.devices.get(device_id)
    if device is None:
        return Rejected(Reason.UNKNOWN_DEVICE, f"device {device_id[:64]!r} is not registered")
    if device.commune != commune:
        return Rejected(
            Reason.WRONG_COMMUNE,
            f"device {device_id!r} belongs to commune {device.commune}, not {commune[:16]!r}",
            device_id,
        )
    if device.decommissioned:
        return Rejected(Reason.DECOMMISSIONED, f"device {device_id!r} is decommissioned", device_id)
    if len(payload) > limits.max_payload_bytes:
        return Rejected(
            Reason.OVERSIZED,
            f"payload of {len(payload)} bytes exceeds {limits.max_payload_bytes}",
            device_id,
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejected(Reason.INVALID_UTF8, f"invalid UTF-8 at byte {exc.start}", device_id)
    out = Decoded(device, channel)
    try:
        if channel == "telemetry":
            _telemetry(out, text, received_at, view, limits)
        elif channel == "event":
            _event(out, text, received_at, view, limits)
        else:
            _status(out, text, received_at, limits)
    except ValidationError as exc:
        try:
            rej = _validation_reject(exc, text)
        except Exception as inner:  # judging the error failed too: still one message's problem
            return undecodable(inner, device_id)
        return Rejected(rej.reason, rej.detail, device_id)
    except _Reject as rej:
        return Rejected(rej.reason, rej.detail, device_id)
    except Exception as exc:  # a decoder bug must not stop ingest: quarantine, say what
        return undecodable(exc, device_id)
    return out


def undecodable(exc: BaseException, device_id: str | None = None) -> Rejected:
    """The rejection of a message whose judging raised (a decoder limit or bug)."""
    text = str(exc)[:200]
    return Rejected(
        Reason.UNDECODABLE, f"undecodable payload ({type(exc).__name__}: {text})", device_id
    )
