"""Small builders for Grafana dashboard JSON (schema 39, Grafana 10.4 / 11)."""

from __future__ import annotations

from typing import Any

from ioc import glossary

JSON = dict[str, Any]

DS: JSON = {"type": "grafana-postgresql-datasource", "uid": "ioc-postgres"}

STATE_COLORS = {
    "online": "green",
    "stale": "yellow",
    "offline": "red",
    "unreachable": "orange",
    "unknown": "text",
    # Its edge collector is down: nothing is known about the device itself.
    "unobserved": "purple",
}
# Health of a reachable device (the device_health view); the map colours by either.
HEALTH_COLORS = {"healthy": "green", "degraded": "yellow", "failed": "dark-red", "unknown": "text"}


def _mapping(words: dict[str, str], colors: dict[str, str], start: int = 0) -> dict[str, JSON]:
    return {
        key: {"text": words[key], "color": color, "index": start + i}
        for i, (key, color) in enumerate(colors.items())
    }


STATE_MAPPING: JSON = {
    "type": "value",
    "options": {
        **_mapping(glossary.words("states"), STATE_COLORS),
        **_mapping(
            glossary.words("health"),
            {k: v for k, v in HEALTH_COLORS.items() if k in ("failed", "degraded")},
            len(STATE_COLORS),
        ),
    },
}
HEALTH_MAPPING: JSON = {
    "type": "value",
    "options": _mapping(glossary.words("health"), HEALTH_COLORS),
}
SEVERITY_MAPPING: JSON = {
    "type": "value",
    "options": _mapping(
        glossary.words("severities"), {"critical": "red", "warning": "orange", "info": "blue"}
    ),
}


def bool_mapping(on: str, off: str, on_color: str = "green", off_color: str = "red") -> JSON:
    """Value mapping for a 0/1 metric."""
    return {
        "type": "value",
        "options": {
            "1": {"text": on, "color": on_color, "index": 0},
            "0": {"text": off, "color": off_color, "index": 1},
        },
    }


def thresholds(*steps: tuple[float | None, str]) -> JSON:
    """Absolute thresholds: ``(None, 'green'), (80, 'red')``."""
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in steps]}


def target(sql: str, fmt: str = "time_series", ref: str = "A") -> JSON:
    """A raw-SQL query of the IOC datasource."""
    return {
        "refId": ref,
        "datasource": DS,
        "editorMode": "code",
        "format": fmt,
        "rawQuery": True,
        "rawSql": sql.strip(),
    }


def panel(
    kind: str,
    title: str,
    sql: str,
    *,
    description: str = "",
    fmt: str = "time_series",
    unit: str | None = None,
    defaults: JSON | None = None,
    custom: JSON | None = None,
    overrides: list[JSON] | None = None,
    options: JSON | None = None,
    columns: dict[str, str] | None = None,
    transformations: list[JSON] | None = None,
    interval: str | None = None,
    size: tuple[int, int] = (12, 8),
) -> JSON:
    """One panel with one SQL target; ``columns`` (SQL name → header) orders a table."""
    field_defaults: JSON = dict(defaults or {})
    if unit:
        field_defaults["unit"] = unit
    if custom:
        field_defaults["custom"] = custom
    transforms = list(transformations or [])
    if columns:
        transforms.append(
            {
                "id": "organize",
                "options": {
                    "excludeByName": {},
                    "indexByName": {name: i for i, name in enumerate(columns)},
                    "renameByName": dict(columns),
                },
            }
        )
    result: JSON = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(sql, fmt)],
        "fieldConfig": {"defaults": field_defaults, "overrides": overrides or []},
        "options": options or {},
        "transformations": transforms,
        "gridPos": {"x": 0, "y": 0, "w": size[0], "h": size[1]},
    }
    if interval:
        result["interval"] = interval
    return result


def timeseries(title: str, sql: str, unit: str = "short", **kw: Any) -> JSON:
    """A time-series panel (long format: time, metric, value)."""
    options = {
        "legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "min"]},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    options.update(kw.pop("options", {}))
    custom = {"lineWidth": 1, "fillOpacity": 5, "spanNulls": False, "showPoints": "never"}
    custom.update(kw.pop("custom", {}))
    return panel("timeseries", title, sql, unit=unit, options=options, custom=custom, **kw)


def stat(title: str, sql: str, **kw: Any) -> JSON:
    """A stat panel showing every row of a table-format query."""
    options = {
        "reduceOptions": {"values": True, "calcs": ["lastNotNull"], "fields": ""},
        "colorMode": "background",
        "graphMode": "none",
        "textMode": "value_and_name",
        "orientation": "auto",
        "justifyMode": "auto",
    }
    options.update(kw.pop("options", {}))
    return panel("stat", title, sql, fmt="table", options=options, **kw)


def table(title: str, sql: str, columns: dict[str, str], **kw: Any) -> JSON:
    """A table panel whose SQL columns are renamed and ordered by ``columns``."""
    options = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    options.update(kw.pop("options", {}))
    return panel("table", title, sql, fmt="table", options=options, columns=columns, **kw)


def row(title: str) -> JSON:
    """A collapsible row header."""
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "panels": [],
        "gridPos": {"x": 0, "y": 0, "w": 24, "h": 1},
    }


def layout(panels: list[JSON]) -> list[JSON]:
    """Number panels and pack them on Grafana's 24-column grid (highest free spot, then left)."""
    heights = [0] * 24
    for i, p in enumerate(panels, start=1):
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if p["type"] == "row":
            x, y = 0, max(heights)
        else:
            y, x = min((max(heights[x : x + w]), x) for x in range(24 - w + 1))
        p["id"] = i
        p["gridPos"].update(x=x, y=y)
        for col in range(x, x + w):
            heights[col] = y + h
        if p["type"] == "row":
            heights = [y + h] * 24
    return panels


def query_variable(
    name: str, label: str, sql: str, all_value: str | None = None, refresh: int = 1
) -> JSON:
    """A multi-value query variable with an All option."""
    variable: JSON = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "query": sql,
        "definition": sql,
        "refresh": refresh,
        "multi": True,
        "includeAll": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "sort": 0,
        "hide": 0,
        "regex": "",
        "skipUrlSync": False,
    }
    if all_value is not None:
        variable["allValue"] = all_value
    return variable


def registry_variables(types: tuple[str, ...] = ()) -> list[JSON]:
    """Commune, site and type variables (``types`` narrows the type list of a dashboard)."""
    type_where = "WHERE type IN (" + ", ".join(f"'{t}'" for t in types) + ")" if types else ""
    return [
        query_variable(
            "commune",
            glossary.word("places", "commune"),
            "SELECT code AS __value, name || ' (' || code || ')' AS __text "
            "FROM communes ORDER BY name",
        ),
        query_variable(
            "site",
            glossary.word("places", "site"),
            "SELECT id AS __value, name AS __text FROM sites "
            "WHERE commune_code IN ($commune) ORDER BY name",
            all_value="'__all'",
        ),
        query_variable(
            "type",
            glossary.word("places", "type"),
            f"SELECT type AS __value, name_vi AS __text FROM device_types {type_where} "
            "ORDER BY type".replace("  ", " "),
        ),
    ]


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[JSON],
    *,
    types: tuple[str, ...] = (),
    time_from: str = "now-24h",
    refresh: str = "1m",
) -> JSON:
    """A complete dashboard with the registry variables and links to the other IOC boards."""
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["ioc"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": refresh,
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "monday",
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": [
            {
                "title": "Bảng IOC",
                "type": "dashboards",
                "tags": ["ioc"],
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "templating": {"list": registry_variables(types)},
        "panels": layout(panels),
    }
