"""Expand a panel's SQL the way Grafana's PostgreSQL datasource does, to run it without Grafana.

Three steps, in Grafana's order:
1. the frontend replaces template variables (``$var``, ``${var:csv}``, ``[[var]]``) and the
   scoped built-ins ``$__interval`` / ``$__interval_ms`` / ``$__range`` ... with the
   datasource's ``interpolateVariable`` (multi-value and All → ``'a','b'``; custom all values
   inserted raw);
2. the backend's ``sqleng.Interpolate`` replaces what is left of ``$__interval_ms``,
   ``$__interval``, ``$__unixEpochFrom()`` and ``$__unixEpochTo()``;
3. the PostgreSQL macro engine expands ``$__name(args)`` (regex ``\\$([_a-zA-Z0-9]+)\\(([^)]*)\\)``,
   so arguments cannot contain parentheses), e.g. ``$__timeFilter(col)`` →
   ``col BETWEEN 'from' AND 'to'`` and ``$__timeGroup(col, 1m)`` →
   ``floor(extract(epoch from col)/60)*60`` (``time_bucket('60s',col)`` with TimescaleDB on).
Mirrors pkg/tsdb/grafana-postgresql-datasource/macros.go and the frontend's templateSrv.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

ALL = "$__all"
VARIABLE_RE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}"
)
MACRO_RE = re.compile(r"\$([_a-zA-Z0-9]+)\(([^)]*)\)")
UNIT_MS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "M": 2_592_000_000,
    "y": 31_536_000_000,
}
# Grafana's rangeutil.roundInterval: (upper bound, rounded interval) in milliseconds.
ROUND_STEPS = (
    (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000),
    (3500, 2000), (7500, 5000), (12500, 10_000), (17500, 15_000), (25000, 20_000),
    (45000, 30_000), (90000, 60_000), (210000, 120_000), (450000, 300_000),
    (750000, 600_000), (1050000, 900_000), (1500000, 1_200_000), (2700000, 1_800_000),
    (5400000, 3_600_000), (9000000, 7_200_000), (16200000, 10_800_000),
    (24300000, 21_600_000), (32400000, 28_800_000), (86400000, 43_200_000),
    (604800000, 86_400_000), (1814400000, 604_800_000), (3628800000, 2_592_000_000),
)  # fmt: skip


class MacroError(ValueError):
    """A macro Grafana would refuse (unknown name, missing argument, bad interval)."""


@dataclass(frozen=True)
class Variable:
    """A dashboard variable's state: its options and what is selected."""

    name: str
    options: Sequence[str]
    selected: Sequence[str] = (ALL,)
    multi: bool = True
    include_all: bool = True
    all_value: str | None = None

    @property
    def is_all(self) -> bool:
        return ALL in self.selected


@dataclass(frozen=True)
class Context:
    """Time range, interval and variables of one query execution."""

    start: datetime
    end: datetime
    interval_ms: int
    variables: Mapping[str, Variable] = field(default_factory=dict)
    timescaledb: bool = False


def parse_interval_ms(text: str) -> int:
    """Milliseconds of an interval such as ``5m``, ``1h``, ``1d`` (gtime.ParseInterval)."""
    parts = re.fullmatch(r"\s*((?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w|M|y))+)\s*", text)
    if not parts:
        raise MacroError(f"error parsing interval {text}")
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|M|y)", parts.group(1)):
        total += float(number) * UNIT_MS[unit]
    return int(total)


def round_interval(ms: float) -> int:
    """Grafana's rounding of range / max data points to a readable interval."""
    for bound, rounded in ROUND_STEPS:
        if ms < bound:
            return rounded
    return 31_536_000_000


def seconds_to_hms(seconds: float) -> str:
    """Grafana's ``secondsToHms``: the largest whole unit only (5400 → ``1h``)."""
    for size, unit in ((31536000, "y"), (86400, "d"), (3600, "h"), (60, "m"), (1, "s")):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    ms = int(seconds * 1000)
    return f"{ms}ms" if ms else "less than a millisecond"


def calculate_interval_ms(
    start: datetime, end: datetime, max_data_points: int, min_interval: str | None
) -> int:
    """The panel's ``$__interval_ms`` (rangeutil.calculateInterval)."""
    span_ms = (end - start).total_seconds() * 1000
    interval = round_interval(span_ms / max_data_points)
    low = parse_interval_ms(min_interval) if min_interval else 1
    return max(interval, low)


def format_interval(ms: int) -> str:
    """gtime.FormatInterval: truncate to the largest unit (90 s → ``1m``)."""
    for unit in ("y", "d", "h", "m", "s", "ms"):
        size = 31_536_000_000 if unit == "y" else UNIT_MS[unit]
        if ms >= size:
            return f"{ms // size}{unit}"
    return "1ms"


def go_float(value: float) -> str:
    """Go's ``%v`` of a float64 (shortest digits, exponent from 1e+06)."""
    d = Decimal(repr(float(value))).normalize()
    _, digits, exponent = d.as_tuple()
    assert isinstance(exponent, int)
    nd, dp = len(digits), len(digits) + exponent
    eprec = nd if (nd < 6 and nd >= dp) else 6
    exp = dp - 1
    if exp < -4 or exp >= eprec:
        mantissa = "".join(map(str, digits))
        mantissa = mantissa[0] + ("." + mantissa[1:] if nd > 1 else "")
        return f"{'-' if value < 0 else ''}{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    return format(d, "f")


def rfc3339(moment: datetime) -> str:
    """Go's ``time.RFC3339Nano`` of a UTC time (no trailing zeros, ``Z``)."""
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _format(values: list[str], fmt: str | None, variable: Variable | None) -> str:
    if fmt is None:
        # The PostgreSQL datasource's interpolateVariable.
        if variable is not None and not (variable.multi or variable.include_all):
            return values[0] if len(values) == 1 else ",".join(_quote(v) for v in values)
        return ",".join(_quote(v) for v in values)
    if fmt in ("csv", "raw", "text", "glob", "regex", "lucene"):
        return ",".join(values)
    if fmt == "sqlstring":
        return ",".join(_quote(v) for v in values)
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if fmt == "doublequote":
        return ",".join('"' + v.replace('"', '\\"') + '"' for v in values)
    if fmt == "pipe":
        return "|".join(values)
    if fmt == "json":
        return json.dumps(values if len(values) != 1 else values[0])
    raise MacroError(f"unsupported variable format {fmt!r}")


def interpolate_variables(sql: str, ctx: Context) -> str:
    """Step 1: template variables and scoped built-ins (the frontend's templateSrv.replace)."""
    span = ctx.end - ctx.start
    builtins = {
        "__interval": seconds_to_hms(ctx.interval_ms / 1000),
        "__interval_ms": str(ctx.interval_ms),
        "__range": seconds_to_hms(span.total_seconds()),
        "__range_s": str(int(span.total_seconds())),
        "__range_ms": str(int(span.total_seconds() * 1000)),
        "__from": str(int(ctx.start.timestamp() * 1000)),
        "__to": str(int(ctx.end.timestamp() * 1000)),
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        if name in builtins:
            return builtins[name]
        variable = ctx.variables.get(name)
        if variable is None:
            return match.group(0)  # unknown: left as is (macros such as $__timeFilter)
        if variable.is_all:
            if variable.all_value is not None and fmt not in ("text", "percentencode"):
                return interpolate_variables(variable.all_value, ctx)
            values = list(variable.options)
        else:
            values = list(variable.selected)
        return _format(values, fmt, variable)

    return VARIABLE_RE.sub(replace, sql)


def interpolate_backend(sql: str, ctx: Context) -> str:
    """Step 2: sqleng.Interpolate (interval and unix-epoch bounds)."""
    sql = sql.replace("$__interval_ms", str(ctx.interval_ms))
    sql = sql.replace("$__interval", format_interval(ctx.interval_ms))
    sql = sql.replace("$__unixEpochFrom()", str(int(ctx.start.timestamp())))
    return sql.replace("$__unixEpochTo()", str(int(ctx.end.timestamp())))


def _macro(name: str, args: list[str], ctx: Context) -> str:
    def need(n: int) -> None:
        if len(args) < n or not args[0]:
            raise MacroError(f"missing time column argument for macro {name}")

    start, end = rfc3339(ctx.start), rfc3339(ctx.end)
    if name == "__time":
        need(1)
        return f'{args[0]} AS "time"'
    if name == "__timeEpoch":
        need(1)
        return f'extract(epoch from {args[0]}) as "time"'
    if name == "__timeFilter":
        need(1)
        return f"{args[0]} BETWEEN '{start}' AND '{end}'"
    if name == "__timeFrom":
        return f"'{start}'"
    if name == "__timeTo":
        return f"'{end}'"
    if name in ("__timeGroup", "__unixEpochGroup"):
        if len(args) < 2:
            raise MacroError(f"macro {name} needs time column and interval")
        seconds = parse_interval_ms(args[1].strip("'")) / 1000
        if len(args) == 3 and args[2] not in ("NULL", "previous") and not _is_number(args[2]):
            raise MacroError(f"error parsing fill value {args[2]}")
        if name == "__unixEpochGroup":
            return f"floor(({args[0]})/{go_float(seconds)})*{go_float(seconds)}"
        if ctx.timescaledb:
            return f"time_bucket('{seconds:.0f}s',{args[0]})"
        return f"floor(extract(epoch from {args[0]})/{go_float(seconds)})*{go_float(seconds)}"
    if name in ("__timeGroupAlias", "__unixEpochGroupAlias"):
        return _macro(name.removesuffix("Alias"), args, ctx) + ' AS "time"'
    if name == "__unixEpochFilter":
        need(1)
        f, t = int(ctx.start.timestamp()), int(ctx.end.timestamp())
        return f"{args[0]} >= {f} AND {args[0]} <= {t}"
    if name == "__unixEpochNanoFilter":
        need(1)
        f, t = _nanos(ctx.start), _nanos(ctx.end)
        return f"{args[0]} >= {f} AND {args[0]} <= {t}"
    if name == "__unixEpochNanoFrom":
        return str(_nanos(ctx.start))
    if name == "__unixEpochNanoTo":
        return str(_nanos(ctx.end))
    raise MacroError(f"undefined macro: ${name}")


def _nanos(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def expand_macros(sql: str, ctx: Context) -> str:
    """Step 3: the PostgreSQL macro engine."""

    def replace(match: re.Match[str]) -> str:
        args = [a.strip(" ") for a in match.group(2).split(",")]
        return _macro(match.group(1), args, ctx)

    return MACRO_RE.sub(replace, sql)


def render(sql: str, ctx: Context) -> str:
    """A panel or variable query as Grafana sends it to PostgreSQL."""
    return expand_macros(interpolate_backend(interpolate_variables(sql, ctx), ctx), ctx)
