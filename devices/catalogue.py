"""The device catalogue: types, their metrics, units, value kinds and report intervals.

One place to add a device type: append a ``DeviceType`` to ``CATALOGUE``. ``ioc migrate``
copies the catalogue into the ``device_types`` / ``metrics`` tables so SQL readers see it too.
Values on the wire are numbers; ``bool`` metrics accept true/false, ``enum`` metrics accept
one of their labels and are stored as the label's index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ioc import glossary

MetricKind = Literal["gauge", "counter", "bool", "enum"]


@dataclass(frozen=True)
class Metric:
    """One measurable quantity of a device type."""

    name: str
    unit: str
    kind: MetricKind
    enum_values: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        if (self.kind == "enum") != bool(self.enum_values):
            raise ValueError(f"metric {self.name}: enum_values go with kind 'enum' only")

    @property
    def vi(self) -> str:
        """The metric's Vietnamese name (from the glossary)."""
        return glossary.metric_label(self.name, "vi")

    @property
    def en(self) -> str:
        """The metric's English name (from the glossary)."""
        return glossary.metric_label(self.name, "en")

    def state_vi(self, label: str) -> str:
        """A state's Vietnamese name (the label itself when there is none)."""
        return glossary.enum_word(self.name, label, "vi")

    def show(self, value: float, lang: str = "vi") -> str:
        """A stored value for people: ``mất hình``, ``bình thường``, ``409,6 kbit/s``."""
        return glossary.metric_value(
            self.name, value, self.unit, lang, kind=self.kind, enum_values=self.enum_values
        )

    @property
    def bounds(self) -> tuple[float, float]:
        """The accepted range of a number: the catalogue's, else ±``UNBOUNDED_LIMIT``."""
        low = -UNBOUNDED_LIMIT if self.min is None else self.min
        high = UNBOUNDED_LIMIT if self.max is None else self.max
        return low, high


# Every number is bounded, even where the catalogue gives no range: a finite extreme such as
# 1.7e308 would overflow sums and averages of every rollup and threshold that reads it. Give
# each gauge and counter its physical range plus a margin; this is the backstop.
UNBOUNDED_LIMIT = 1e12


@dataclass(frozen=True)
class DeviceType:
    """A kind of device: its metrics, events and how often it reports."""

    name: str
    interval_s: int
    metrics: tuple[Metric, ...]
    events: tuple[str, ...] = ()
    # MQTT keep-alive of devices of this type that hold their own session (a birth message
    # may say otherwise): the broker declares them gone 1.5 x this after their last packet.
    keepalive_s: int = 30
    metric_index: dict[str, Metric] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metric_index", {m.name: m for m in self.metrics})

    @property
    def vi(self) -> str:
        """The type's Vietnamese name (from the glossary)."""
        return glossary.type_label(self.name, "vi")

    @property
    def en(self) -> str:
        """The type's English name (from the glossary)."""
        return glossary.type_label(self.name, "en")


def _pct(name: str) -> Metric:
    return Metric(name, "%", "gauge", min=0, max=100)


def _flag(name: str) -> Metric:
    return Metric(name, "", "bool")


ONLINE = _flag("online")
# Up to ~30 years: a device's uptime counter, bounded so one wild value cannot break sums.
UPTIME = Metric("uptime_s", "s", "counter", min=0, max=1e9)
CLOCK_SKEW = Metric("clock_skew_s", "s", "gauge", min=-1e9, max=1e9)
# Events of the camera/NVR checks (collector/checks/hikvision, dahua, onvif, rtsp).
CAMERA_EVENTS = (
    "recording_stopped",
    "device_changed",
    "camera_event",
    "stream_auth_failed",
    "clock_skew",
)
# A condition reported by the camera checks ends with "<type>_cleared" (rules' clear_event).
CAMERA_CONDITIONS = (
    "video_loss",
    "tamper",
    "storage_failure",
    "recording_stopped",
    "motion",
    "camera_event",
    "clock_skew",
)
CAMERA_CLEARED = tuple(f"{e}_cleared" for e in CAMERA_CONDITIONS)
# What the collector's ping check measures, on every type it can watch.
REACH = (
    _pct("loss_pct"),
    Metric("rtt_ms", "ms", "gauge", min=0, max=600_000),
    Metric("jitter_ms", "ms", "gauge", min=0, max=600_000),
)
# Events the collector reports about its own checks of a device.
CHECK_EVENTS = ("check_error", "check_recovered")

CATALOGUE: tuple[DeviceType, ...] = (
    DeviceType(
        "camera",
        60,
        (
            ONLINE,
            _flag("stream_up"),
            Metric(
                "stream_state",
                "",
                "enum",
                enum_values=("up", "unauthorized", "down"),
            ),
            Metric("fps", "fps", "gauge", min=0, max=1000),
            Metric("fps_configured", "fps", "gauge", min=0, max=1000),
            Metric("bitrate_kbps", "kbps", "gauge", min=0, max=1e6),
            Metric(
                "bitrate_configured_kbps",
                "kbps",
                "gauge",
                min=0,
                max=1e6,
            ),
            _pct("cpu_pct"),
            _pct("mem_pct"),
            UPTIME,
            CLOCK_SKEW,
            *REACH,
        ),
        events=(
            "tamper",
            "video_loss",
            "storage_failure",
            "reboot",
            "motion",
            *CHECK_EVENTS,
            *CAMERA_EVENTS,
            *CAMERA_CLEARED,
        ),
    ),
    DeviceType(
        "nvr",
        300,
        (
            ONLINE,
            _pct("disk_used_pct"),
            Metric(
                "disk_status",
                "",
                "enum",
                enum_values=("normal", "abnormal", "smartfailed", "notonline"),
            ),
            _flag("recording"),
            Metric(
                "channels_recording",
                "",
                "gauge",
                min=0,
                max=1024,
            ),
            _pct("cpu_pct"),
            _pct("mem_pct"),
            UPTIME,
            CLOCK_SKEW,
            *REACH,
        ),
        events=(
            "disk_failure",
            "storage_failure",
            "reboot",
            *CHECK_EVENTS,
            *CAMERA_EVENTS,
            "video_loss",
            "tamper",
            "motion",
            "channel_offline",
            *CAMERA_CLEARED,
            "disk_failure_cleared",
            "channel_offline_cleared",
        ),
    ),
    DeviceType(
        "speaker",
        30,
        (
            ONLINE,
            Metric("rsrp_dbm", "dBm", "gauge", min=-200, max=0),
            Metric("rsrq_db", "dB", "gauge", min=-40, max=10),
            Metric("sinr_db", "dB", "gauge", min=-50, max=60),
            Metric("volume", "", "gauge", min=0, max=100),
            Metric(
                "state",
                "",
                "enum",
                enum_values=("idle", "playing", "emergency"),
            ),
            _flag("mains_ok"),
            Metric("battery_v", "V", "gauge", min=0, max=60),
            _flag("amp_ok"),
            Metric("temp_c", "°C", "gauge", min=-40, max=125),
            Metric("data_mb_month", "MB", "counter", min=0, max=1e9),
            Metric("data_plan_mb", "MB", "gauge", min=0, max=1e9),
            *REACH,
        ),
        events=(
            "broadcast",
            "amp_fault",
            "power_lost",
            "power_restored",
            "reboot",
            *CHECK_EVENTS,
        ),
    ),
    DeviceType(
        "link",
        60,
        (
            ONLINE,
            _flag("up"),
            *REACH,
            _pct("util_in_pct"),
            _pct("util_out_pct"),
            Metric("errors_per_s", "1/s", "gauge", min=0, max=1e9),
            Metric(
                "wan",
                "",
                "enum",
                enum_values=("fiber", "dedicated", "4g"),
            ),
            Metric("bandwidth_mbps", "Mbps", "gauge", min=0, max=1e6),
            UPTIME,
        ),
        events=("link_down", "link_up", "failover", "reboot", *CHECK_EVENTS),
    ),
    DeviceType(
        "ups",
        60,
        (
            ONLINE,
            _flag("on_battery"),
            Metric(
                "battery_status",
                "",
                "enum",
                enum_values=("unknown", "normal", "low", "depleted"),
            ),
            Metric(
                "battery_minutes",
                "min",
                "gauge",
                min=0,
                max=1e6,
            ),
            _pct("battery_charge_pct"),
            Metric("output_load_pct", "%", "gauge", min=0, max=1000),
            UPTIME,
            *REACH,
        ),
        events=("reboot", *CHECK_EVENTS),
    ),
    DeviceType(
        "collector",
        30,
        (
            ONLINE,
            Metric(
                "devices_watched",
                "",
                "gauge",
                min=0,
                max=1e6,
            ),
            Metric(
                "devices_polled",
                "",
                "gauge",
                min=0,
                max=1e6,
            ),
            Metric("checks_failing", "", "gauge", min=0, max=1e6),
            Metric("poll_lag_s", "s", "gauge", min=0, max=1e6),
            Metric(
                "buffer_depth",
                "",
                "gauge",
                min=0,
                max=1e9,
            ),
            Metric("buffer_bytes", "B", "gauge", min=0, max=1e12),
            Metric(
                "buffer_dropped",
                "",
                "counter",
                min=0,
                max=1e12,
            ),
            Metric("push_errors", "", "counter", min=0, max=1e12),
            Metric("receiver_refused", "", "counter", min=0, max=1e12),
        ),
        # collector_version: {version, inventory_hash}, in the first heartbeat and on change.
        events=("buffer_dropped", "collector_version"),
        keepalive_s=15,  # collector/forward.py
    ),
)

TYPES: dict[str, DeviceType] = {t.name: t for t in CATALOGUE}


def all_metrics() -> dict[str, Metric]:
    """Every metric of the catalogue by name (a name means the same thing on every type)."""
    merged: dict[str, Metric] = {}
    for device_type in CATALOGUE:
        for metric in device_type.metrics:
            known = merged.setdefault(metric.name, metric)
            if known.unit != metric.unit or known.kind != metric.kind:
                raise ValueError(f"metric {metric.name} differs between device types")
    return merged


def get_type(name: str) -> DeviceType:
    """The device type called ``name``; KeyError names the known types."""
    try:
        return TYPES[name]
    except KeyError:
        raise KeyError(f"unknown device type {name!r}; known: {', '.join(TYPES)}") from None


def type_label(device_type: str | None, lang: str) -> str:
    """The name of a device type in ``lang`` ("vi" or "en"); unknown: as given."""
    return glossary.type_label(device_type, lang)


def type_counts(counts: object, lang: str) -> str:
    """``9 camera, 2 cụm loa``, most first; "" when nothing is countable.

    ``counts`` comes from stored JSON (an alert's impact): only whole counts are shown.
    """
    return glossary.impact_text(counts, lang) if isinstance(counts, dict) else ""
