"""SQL fragments shared by the dashboards: registry filters and raw/rollup tiering.

Panels query the stable SQL surface (``devices``, ``telemetry``, ``telemetry_5m``,
``telemetry_1h``, ``device_events``, ``alerts`` ...) with Grafana's PostgreSQL macros. A
time-series panel is a UNION ALL of one query per resolution; each branch carries a predicate
on the dashboard's range length that PostgreSQL folds to a constant, so only one branch runs:
raw points up to ``RAW_MAX``, 5-minute rollups up to ``MIN5_MAX``, hourly rollups beyond.
"""

from __future__ import annotations

RAW_MAX = "3 hours"
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


Agg = str | tuple[str, str, str]
GRAIN = {"raw": "1 minute", "5m": "5 minutes", "1h": "1 hour"}
ORIGIN = "timestamptz '2000-01-01 00:00+00'"


def _partials(name: str, agg: Agg, tier: str, i: int) -> tuple[list[str], str]:
    """Inner (per tier-grain bucket) expressions and the outer expression combining them."""
    raw = tier == "raw"
    if agg == "avg":
        inner = ["sum(t.value)", "count(t.value)"] if raw else ["sum(r.avg)", "count(*)"]
        return [f"{inner[0]} AS s{i}", f"{inner[1]} AS n{i}"], (
            f'sum(s{i}) / nullif(sum(n{i}), 0) AS "{name}"'
        )
    if agg in ("min", "max"):
        inner_expr = f"{agg}(t.value)" if raw else f"{agg}(r.{agg})"
        return [f"{inner_expr} AS v{i}"], f'{agg}(v{i}) AS "{name}"'
    assert isinstance(agg, tuple) and agg[0] == "devices", agg
    cond = agg[1] if raw else agg[2]
    # Devices per grain bucket; an interval spanning several buckets shows the peak.
    return [f"count(DISTINCT d.id) FILTER (WHERE {cond}) AS v{i}"], f'max(v{i}) AS "{name}"'


def metric_series(
    metrics: list[str],
    values: dict[str, Agg],
    series: str | None = None,
    where: str = "",
) -> str:
    """Time series of telemetry ``metrics`` over the three resolution tiers.

    Each tier first aggregates to its own grain (raw points to 1 minute with ``date_bin``,
    rollups per bucket), then ``$__timeGroupAlias`` groups those few rows to ``$__interval``:
    Grafana's numeric ``floor(extract(epoch ...))`` then runs on hundreds of rows, not on
    every point. ``values`` maps a column to ``avg`` / ``min`` / ``max`` or to
    ``("devices", raw condition on t.value, rollup condition on r.min/max/avg)``.
    ``series`` names one series per group; it may use ``d`` (device), ``s`` (site) and
    ``{metric}`` (the metric's name). Rollups are read through ``telemetry_5m_keys`` /
    ``telemetry_1h_keys`` with a metric-id filter, so that an index serves one metric.
    """
    names = ", ".join(f"'{m}'" for m in metrics)
    extra = f" AND {where}" if where else ""

    def branch(tier: str, predicate: str) -> str:
        raw = tier == "raw"
        cols = [
            f"date_bin(interval '{GRAIN['raw']}', t.time, {ORIGIN}) AS time"
            if raw
            else "r.bucket AS time"
        ]
        if series:
            metric = "t.metric" if raw else "mt.name"
            cols.append(f"{series.replace('{metric}', metric)} AS metric")
        for i, (name, agg) in enumerate(values.items()):
            cols.extend(_partials(name, agg, tier, i)[0])
        if raw:
            source = "FROM telemetry t\nJOIN devices d ON d.id = t.device_id\n"
            filters = f"$__timeFilter(t.time) AND t.metric IN ({names})"
        else:
            source = f"FROM telemetry_{tier}_keys r\nJOIN devices d ON d.key = r.device_key\n"
            if series and "{metric}" in series:
                source += "JOIN metrics mt ON mt.id = r.metric_id\n"
            filters = (
                "$__timeFilter(r.bucket) AND r.metric_id = ANY (ARRAY("
                f"SELECT id FROM metrics WHERE name IN ({names})))"
            )
        return (
            f"  SELECT {', '.join(cols)}\n  {source}"
            "  LEFT JOIN sites s ON s.id = d.site_id\n"
            f"  WHERE {filters}\n    AND {devices_filter()}{extra}\n    AND {predicate}\n"
            f"  GROUP BY {'1, 2' if series else '1'}"
        ).replace("\nJOIN", "\n  JOIN")

    outer = ["$__timeGroupAlias(b.time, $__interval)"]
    if series:
        outer.append("b.metric")
    outer += [_partials(name, agg, "raw", i)[1] for i, (name, agg) in enumerate(values.items())]
    group = "1, 2" if series else "1"
    inner = "\n  UNION ALL\n".join(
        [branch("raw", TIER_RAW), branch("5m", TIER_5M), branch("1h", TIER_1H)]
    )
    return f"SELECT {', '.join(outer)}\nFROM (\n{inner}\n) b\nGROUP BY {group}\nORDER BY {group}"


AVG: dict[str, Agg] = {"value": "avg"}
MIN: dict[str, Agg] = {"value": "min"}
MAX: dict[str, Agg] = {"value": "max"}


def latest_pivot(metrics: list[str]) -> str:
    """Columns pivoting ``device_latest`` (alias ``l``) into one column per metric."""
    return ",\n  ".join(f"max(l.value) FILTER (WHERE l.metric = '{m}') AS {m}" for m in metrics)
