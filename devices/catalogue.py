"""The device catalogue: types, their metrics, units, value kinds and report intervals.

One place to add a device type: append a ``DeviceType`` to ``CATALOGUE``. ``ioc migrate``
copies the catalogue into the ``device_types`` / ``metrics`` tables so SQL readers see it too.
Values on the wire are numbers; ``bool`` metrics accept true/false, ``enum`` metrics accept
one of their labels and are stored as the label's index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

MetricKind = Literal["gauge", "counter", "bool", "enum"]


@dataclass(frozen=True)
class Metric:
    """One measurable quantity of a device type."""

    name: str
    unit: str
    kind: MetricKind
    vi: str
    en: str
    enum_values: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    enum_vi: tuple[str, ...] = ()  # the states in Vietnamese, in ``enum_values`` order

    def __post_init__(self) -> None:
        if (self.kind == "enum") != bool(self.enum_values):
            raise ValueError(f"metric {self.name}: enum_values go with kind 'enum' only")
        if self.enum_vi and len(self.enum_vi) != len(self.enum_values):
            raise ValueError(f"metric {self.name}: one Vietnamese name per state")

    def state_vi(self, label: str) -> str:
        """A state's Vietnamese name (the label itself when there is none)."""
        if label in self.enum_values and self.enum_vi:
            return self.enum_vi[self.enum_values.index(label)]
        return label

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
    vi: str
    en: str
    interval_s: int
    metrics: tuple[Metric, ...]
    events: tuple[str, ...] = ()
    metric_index: dict[str, Metric] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metric_index", {m.name: m for m in self.metrics})


def _pct(name: str, vi: str, en: str) -> Metric:
    return Metric(name, "%", "gauge", vi, en, min=0, max=100)


def _flag(name: str, vi: str, en: str) -> Metric:
    return Metric(name, "", "bool", vi, en)


ONLINE = _flag("online", "Trực tuyến", "Online")
# Up to ~30 years: a device's uptime counter, bounded so one wild value cannot break sums.
UPTIME = Metric("uptime_s", "s", "counter", "Thời gian hoạt động", "Uptime", min=0, max=1e9)
CLOCK_SKEW = Metric("clock_skew_s", "s", "gauge", "Lệch đồng hồ", "Clock skew", min=-1e9, max=1e9)
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
    _pct("loss_pct", "Mất gói", "Packet loss"),
    Metric("rtt_ms", "ms", "gauge", "Độ trễ", "Round-trip time", min=0, max=600_000),
    Metric("jitter_ms", "ms", "gauge", "Độ biến động trễ", "Jitter", min=0, max=600_000),
)
# Events the collector reports about its own checks of a device.
CHECK_EVENTS = ("check_error", "check_recovered")

CATALOGUE: tuple[DeviceType, ...] = (
    DeviceType(
        "camera",
        "Camera",
        "Camera",
        60,
        (
            ONLINE,
            _flag("stream_up", "Luồng video", "Stream up"),
            Metric(
                "stream_state",
                "",
                "enum",
                "Trạng thái luồng RTSP",
                "RTSP stream state",
                enum_values=("up", "unauthorized", "down"),
            ),
            Metric("fps", "fps", "gauge", "Khung hình/giây", "Frames per second", min=0, max=1000),
            Metric(
                "fps_configured", "fps", "gauge", "FPS cấu hình", "Configured FPS", min=0, max=1000
            ),
            Metric("bitrate_kbps", "kbps", "gauge", "Tốc độ bit", "Bitrate", min=0, max=1e6),
            Metric(
                "bitrate_configured_kbps",
                "kbps",
                "gauge",
                "Tốc độ bit cấu hình",
                "Configured bitrate",
                min=0,
                max=1e6,
            ),
            _pct("cpu_pct", "CPU", "CPU"),
            _pct("mem_pct", "Bộ nhớ", "Memory"),
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
        "Đầu ghi hình",
        "NVR",
        300,
        (
            ONLINE,
            _pct("disk_used_pct", "Dung lượng đĩa đã dùng", "Disk used"),
            Metric(
                "disk_status",
                "",
                "enum",
                "Trạng thái đĩa",
                "Disk status",
                enum_values=("normal", "abnormal", "smartfailed", "notonline"),
                enum_vi=("bình thường", "bất thường", "hỏng (SMART báo lỗi)", "không nhận đĩa"),
            ),
            _flag("recording", "Đang ghi hình", "Recording"),
            Metric(
                "channels_recording",
                "",
                "gauge",
                "Số kênh đang ghi",
                "Channels recording",
                min=0,
                max=1024,
            ),
            _pct("cpu_pct", "CPU", "CPU"),
            _pct("mem_pct", "Bộ nhớ", "Memory"),
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
        "Cụm loa truyền thanh",
        "Loudspeaker cluster",
        30,
        (
            ONLINE,
            Metric("rsrp_dbm", "dBm", "gauge", "Cường độ tín hiệu RSRP", "RSRP", min=-200, max=0),
            Metric("rsrq_db", "dB", "gauge", "Chất lượng tín hiệu RSRQ", "RSRQ", min=-40, max=10),
            Metric("sinr_db", "dB", "gauge", "SINR", "SINR", min=-50, max=60),
            Metric("volume", "", "gauge", "Âm lượng", "Volume", min=0, max=100),
            Metric(
                "state",
                "",
                "enum",
                "Trạng thái phát",
                "Playback state",
                enum_values=("idle", "playing", "emergency"),
                enum_vi=("chờ", "đang phát", "phát khẩn cấp"),
            ),
            _flag("mains_ok", "Điện lưới", "Mains power"),
            Metric("battery_v", "V", "gauge", "Điện áp ắc quy", "Battery voltage", min=0, max=60),
            _flag("amp_ok", "Bộ khuếch đại", "Amplifier OK"),
            Metric("temp_c", "°C", "gauge", "Nhiệt độ", "Temperature", min=-40, max=125),
            Metric(
                "data_mb_month", "MB", "counter", "Dữ liệu tháng", "Data this month", min=0, max=1e9
            ),
            Metric("data_plan_mb", "MB", "gauge", "Gói dữ liệu", "Data plan", min=0, max=1e9),
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
        "Đường truyền",
        "Network link",
        60,
        (
            ONLINE,
            _flag("up", "Kết nối", "Link up"),
            *REACH,
            _pct("util_in_pct", "Tải vào", "Utilisation in"),
            _pct("util_out_pct", "Tải ra", "Utilisation out"),
            Metric("errors_per_s", "1/s", "gauge", "Lỗi/giây", "Errors per second", min=0, max=1e9),
            Metric(
                "wan",
                "",
                "enum",
                "Đường WAN đang dùng",
                "Active WAN",
                enum_values=("fiber", "dedicated", "4g"),
                enum_vi=("cáp quang", "mạng chuyên dùng", "4G dự phòng"),
            ),
            Metric("bandwidth_mbps", "Mbps", "gauge", "Băng thông", "Bandwidth", min=0, max=1e6),
            UPTIME,
        ),
        events=("link_down", "link_up", "failover", "reboot", *CHECK_EVENTS),
    ),
    DeviceType(
        "ups",
        "Bộ lưu điện (UPS)",
        "UPS",
        60,
        (
            ONLINE,
            _flag("on_battery", "Đang chạy bằng ắc quy", "On battery"),
            Metric(
                "battery_status",
                "",
                "enum",
                "Trạng thái ắc quy",
                "Battery status",
                enum_values=("unknown", "normal", "low", "depleted"),
            ),
            Metric(
                "battery_minutes",
                "min",
                "gauge",
                "Thời gian ắc quy còn lại",
                "Battery time remaining",
                min=0,
                max=1e6,
            ),
            _pct("battery_charge_pct", "Dung lượng ắc quy còn lại", "Battery charge"),
            Metric("output_load_pct", "%", "gauge", "Tải đầu ra", "Output load", min=0, max=1000),
            UPTIME,
            *REACH,
        ),
        events=("reboot", *CHECK_EVENTS),
    ),
    DeviceType(
        "collector",
        "Bộ thu thập tại xã",
        "Edge collector",
        30,
        (
            ONLINE,
            Metric(
                "devices_watched",
                "",
                "gauge",
                "Số thiết bị theo dõi",
                "Devices watched",
                min=0,
                max=1e6,
            ),
            Metric(
                "devices_polled",
                "",
                "gauge",
                "Số thiết bị đã đọc",
                "Devices polled",
                min=0,
                max=1e6,
            ),
            Metric(
                "checks_failing", "", "gauge", "Số phép đo lỗi", "Checks failing", min=0, max=1e6
            ),
            Metric(
                "poll_lag_s", "s", "gauge", "Độ trễ lịch đo (p99)", "Poll lag p99", min=0, max=1e6
            ),
            Metric(
                "buffer_depth",
                "",
                "gauge",
                "Bản ghi đang đệm",
                "Buffered readings",
                min=0,
                max=1e9,
            ),
            Metric("buffer_bytes", "B", "gauge", "Dung lượng đệm", "Buffer size", min=0, max=1e12),
            Metric(
                "buffer_dropped",
                "",
                "counter",
                "Bản ghi đệm bị bỏ",
                "Buffered readings dropped",
                min=0,
                max=1e12,
            ),
            Metric(
                "push_errors",
                "",
                "counter",
                "Lần đẩy dữ liệu bị từ chối",
                "Pushes refused or unreadable",
                min=0,
                max=1e12,
            ),
            Metric(
                "receiver_refused",
                "",
                "counter",
                "Kết nối bị bộ nhận từ chối",
                "Receiver connections refused",
                min=0,
                max=1e12,
            ),
        ),
        # collector_version: {version, inventory_hash}, in the first heartbeat and on change.
        events=("buffer_dropped", "collector_version"),
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
    """The catalogue's name of a device type in ``lang`` ("vi" or "en"); unknown: as given."""
    known = TYPES.get(device_type or "")
    if known is None:
        return device_type or ""
    return known.en if lang == "en" else known.vi


def type_counts(counts: object, lang: str) -> str:
    """``9 camera, 2 cụm loa truyền thanh``, most first; "" when nothing is countable.

    ``counts`` comes from stored JSON (an alert's impact): only whole counts are shown.
    """
    if not isinstance(counts, dict):
        return ""
    whole = [(k, v) for k, v in counts.items() if isinstance(v, int) and not isinstance(v, bool)]
    parts = []
    for kind, count in sorted(whole, key=lambda kv: -kv[1]):
        name = type_label(kind, lang)
        parts.append(f"{count} {name.lower() if lang == 'vi' else name}")
    return ", ".join(parts)
