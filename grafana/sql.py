"""SQL fragments shared by the dashboards: registry filters and raw/rollup tiering.

Panels query the stable SQL surface (``devices``, ``telemetry``, ``telemetry_5m``,
``telemetry_1h``, ``device_events``, ``alerts`` ...) with Grafana's PostgreSQL macros. A
time-series panel is a UNION ALL of one query per resolution; each branch carries a predicate
on the dashboard's range length that PostgreSQL folds to a constant, so only one branch runs:
raw points up to ``RAW_MAX``, 5-minute rollups up to ``MIN5_MAX``, hourly rollups beyond.
"""

from __future__ import annotations

RAW_MAX = "6 hours"
MIN5_MAX = "3 days"

RANGE = "($__timeTo()::timestamptz - $__timeFrom()::timestamptz)"
TIER_RAW = f"{RANGE} <= interval '{RAW_MAX}'"
TIER_5M = f"{RANGE} > interval '{RAW_MAX}' AND {RANGE} <= interval '{MIN5_MAX}'"
TIER_1H = f"{RANGE} > interval '{MIN5_MAX}'"

# Local day boundaries for daily figures (the IOC works in Vietnamese time).
TZ = "Asia/Ho_Chi_Minh"


def devices_filter(alias: str = "d", active: bool = True) -> str:
    """Restrict a ``devices`` alias to the commune / site / type variables."""
    parts = [
        f"{alias}.commune_code IN ($commune)",
        f"{alias}.type IN ($type)",
        # Sites use the custom all value '__all' so devices without a site stay visible.
        f"({alias}.site_id IN ($site) OR '__all' IN ($site))",
    ]
    if active:
        parts.append(f"{alias}.decommissioned_at IS NULL")
    return " AND ".join(parts)


def alerts_filter(alias: str = "a") -> str:
    """Restrict an ``alerts`` alias to the commune / site / type variables."""
    return (
        f"{alias}.commune_code IN ($commune)"
        f" AND ({alias}.device_type IN ($type) OR {alias}.device_type IS NULL)"
        f" AND ({alias}.site_id IN ($site) OR '__all' IN ($site))"
    )


def metric_series(
    metrics: list[str],
    values: dict[str, tuple[str, str]],
    series: str | None = None,
    where: str = "",
) -> str:
    """Time series of telemetry ``metrics`` over the three resolution tiers.

    ``values`` maps each value column to (raw expression over ``t.value``, rollup expression
    over ``r.min/max/avg/last/count``). ``series`` names one series per group and may use
    ``d`` (device), ``s`` (site) and ``{x}`` for the data row (``{x}.metric``).
    """
    names = ", ".join(f"'{m}'" for m in metrics)
    extra = f" AND {where}" if where else ""

    def branch(table: str, alias: str, time_col: str, use_rollup: bool, tier: str) -> str:
        cols = [f"$__timeGroupAlias({alias}.{time_col}, $__interval)"]
        if series:
            cols.append(f"{series.replace('{x}', alias)} AS metric")
        for name, (raw, rollup) in values.items():
            cols.append(f'{rollup if use_rollup else raw} AS "{name}"')
        group = "1, 2" if series else "1"
        return (
            f"SELECT {', '.join(cols)}\n"
            f"FROM {table} {alias}\n"
            f"JOIN devices d ON d.id = {alias}.device_id\n"
            f"LEFT JOIN sites s ON s.id = d.site_id\n"
            f"WHERE $__timeFilter({alias}.{time_col}) AND {alias}.metric IN ({names})\n"
            f"  AND {devices_filter()}{extra}\n"
            f"  AND {tier}\n"
            f"GROUP BY {group}"
        )

    order = "1, 2" if series else "1"
    return (
        branch("telemetry", "t", "time", False, TIER_RAW)
        + "\nUNION ALL\n"
        + branch("telemetry_5m", "r", "bucket", True, TIER_5M)
        + "\nUNION ALL\n"
        + branch("telemetry_1h", "r", "bucket", True, TIER_1H)
        + f"\nORDER BY {order}"
    )


AVG = {"value": ("avg(t.value)", "avg(r.avg)")}
MIN = {"value": ("min(t.value)", "min(r.min)")}
MAX = {"value": ("max(t.value)", "max(r.max)")}


def latest_pivot(metrics: list[str]) -> str:
    """Columns pivoting ``device_latest`` (alias ``l``) into one column per metric."""
    return ",\n  ".join(f"max(l.value) FILTER (WHERE l.metric = '{m}') AS {m}" for m in metrics)
