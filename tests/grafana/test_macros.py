"""The expander reproduces Grafana's PostgreSQL macros and variable interpolation.

Expected strings follow Grafana's own tests (pkg/tsdb/grafana-postgresql-datasource/
macros_test.go and the frontend's templateSrv / datasource tests).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from grafana.macros import (
    Context,
    MacroError,
    Variable,
    calculate_interval_ms,
    format_interval,
    go_float,
    interpolate_variables,
    render,
    seconds_to_hms,
)

FROM = datetime(2018, 4, 12, 18, 0, tzinfo=UTC)
TO = FROM + timedelta(minutes=5)
CTX = Context(FROM, TO, 60_000)
TS = Context(FROM, TO, 60_000, timescaledb=True)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select $__time(time_column)", 'select time_column AS "time"'),
        ("select $__timeEpoch(time)", 'select extract(epoch from time) as "time"'),
        (
            "WHERE $__timeFilter(time_column)",
            "WHERE time_column BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z'",
        ),
        ("select $__timeFrom()", "select '2018-04-12T18:00:00Z'"),
        ("select $__timeTo()", "select '2018-04-12T18:05:00Z'"),
        (
            "GROUP BY $__timeGroup(time_column,'5m')",
            "GROUP BY floor(extract(epoch from time_column)/300)*300",
        ),
        (
            "GROUP BY $__timeGroup(time_column, 5m, NULL)",
            "GROUP BY floor(extract(epoch from time_column)/300)*300",
        ),
        (
            "select $__timeGroupAlias(time_column,'5m')",
            'select floor(extract(epoch from time_column)/300)*300 AS "time"',
        ),
        ("select $__unixEpochFilter(time)", "select time >= 1523556000 AND time <= 1523556300"),
        ("select $__unixEpochGroup(time_column,'5m')", "select floor((time_column)/300)*300"),
        (
            "select $__unixEpochNanoFilter(time)",
            "select time >= 1523556000000000000 AND time <= 1523556300000000000",
        ),
        ("select $__interval_ms, '$__interval'", "select 60000, '1m'"),
        ("select $__unixEpochFrom(), $__unixEpochTo()", "select 1523556000, 1523556300"),
    ],
)
def test_postgres_macros(sql: str, expected: str) -> None:
    assert render(sql, CTX) == expected


def test_timescaledb_time_group() -> None:
    assert render("$__timeGroup(time_column, 5m)", TS) == "time_bucket('300s',time_column)"
    assert (
        render("$__timeGroupAlias(t.time, $__interval)", TS)
        == "time_bucket('60s',t.time) AS \"time\""
    )


def test_fractional_seconds_and_long_intervals() -> None:
    ctx = Context(FROM + timedelta(microseconds=250_000), TO, 60_000)
    assert render("$__timeFrom()", ctx) == "'2018-04-12T18:00:00.25Z'"
    assert (
        render("$__timeGroup(t, 2w)", CTX) == "floor(extract(epoch from t)/1.2096e+06)*1.2096e+06"
    )
    assert go_float(300.0) == "300"
    assert go_float(0.5) == "0.5"
    assert go_float(1_000_000.0) == "1e+06"


def test_unknown_macro_and_bad_interval_are_errors() -> None:
    with pytest.raises(MacroError, match="undefined macro"):
        render("select $__nope(x)", CTX)
    with pytest.raises(MacroError, match="interval"):
        render("select $__timeGroup(x, soon)", CTX)
    with pytest.raises(MacroError, match="needs time column"):
        render("select $__timeGroup(x)", CTX)


def test_macro_arguments_stop_at_the_first_parenthesis() -> None:
    # Grafana's regex is \$(\w+)\(([^)]*)\): a nested call is cut, producing broken SQL.
    sql = render("$__timeFilter(coalesce(a, b))", CTX)
    assert sql.startswith("coalesce(a BETWEEN") and sql.endswith(")")


VARS = {
    "commune": Variable("commune", ["21025", "21026"]),
    "one": Variable("one", ["x"], selected=["x"], multi=False, include_all=False),
    "site": Variable("site", ["a", "b'c"], selected=["b'c"]),
    "any": Variable("any", ["a", "b"], all_value="'__all'"),
}


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("c IN ($commune)", "c IN ('21025','21026')"),
        ("c IN (${commune})", "c IN ('21025','21026')"),
        ("c IN ([[commune]])", "c IN ('21025','21026')"),
        ("c = '${commune:csv}'", "c = '21025,21026'"),
        ("c IN (${site:sqlstring})", "c IN ('b''c')"),
        ("c IN ($site)", "c IN ('b''c')"),
        ("c = $one", "c = x"),
        ("c IN ($any)", "c IN ('__all')"),
        ("c = ${commune:pipe}", "c = 21025|21026"),
        ("$unknown and $__timeFilter(t)", "$unknown and $__timeFilter(t)"),
    ],
)
def test_template_variables(sql: str, expected: str) -> None:
    ctx = Context(FROM, TO, 60_000, VARS)
    assert interpolate_variables(sql, ctx) == expected


@pytest.mark.parametrize(
    ("span", "min_interval", "expected_ms", "text"),
    [
        (timedelta(hours=24), "1m", 60_000, "1m"),
        (timedelta(hours=3), "1m", 60_000, "1m"),
        (timedelta(hours=3), None, 10_000, "10s"),
        (timedelta(days=7), "1m", 600_000, "10m"),
        (timedelta(days=30), "1m", 1_800_000, "30m"),
    ],
)
def test_interval(span: timedelta, min_interval: str | None, expected_ms: int, text: str) -> None:
    ms = calculate_interval_ms(FROM, FROM + span, 1000, min_interval)
    assert ms == expected_ms
    assert seconds_to_hms(ms / 1000) == text
    assert format_interval(ms) == text
    assert format_interval(90_000) == "1m"
