"""Threshold and state rules: one metric of the latest values compared with a limit."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

import psycopg
from pydantic import field_validator, model_validator

from alerts.rules.base import Condition, EvalContext, RuleBase, Texts
from alerts.texts import PerLanguage, number_in
from devices.catalogue import TYPES, Metric, all_metrics
from ioc import glossary

Op = Literal[">", ">=", "<", "<="]
EqOp = Literal["==", "!="]

# One constant query for every threshold/state rule: the operator is data (ioc_alert_cmp).
# Rows are the devices still on the alerting side of the clear threshold; ``fire`` says whether
# they are past the firing threshold too. Values of a device silent for offline_factor
# intervals are stale (judged by ingest's clock, not the device's; a pipeline outage does not
# count, see ioc_alert_overdue). An extreme reference value (an old row beyond the catalogue's
# bounds) leaves its device out instead of overflowing the query for every device.
THRESHOLD_SQL = """
SELECT l.device_id, l.value, t.fire_at, ioc_alert_cmp(l.value, %(op)s, t.fire_at) AS fire
FROM device_latest l
JOIN devices d ON d.id = l.device_id
JOIN device_status s ON s.device_id = l.device_id
LEFT JOIN device_latest r ON r.device_id = l.device_id AND r.metric = %(percent_of)s
CROSS JOIN LATERAL (
    SELECT CASE WHEN %(percent_of)s::text IS NULL THEN %(fire)s::float8
                WHEN abs(r.value) <= 1e15 THEN r.value * %(fire)s::float8 / 100.0 END AS fire_at,
           CASE WHEN %(percent_of)s::text IS NULL THEN %(clear)s::float8
                WHEN abs(r.value) <= 1e15 THEN r.value * %(clear)s::float8 / 100.0 END AS clear_at
) t
WHERE l.metric = %(metric)s
  AND d.type = ANY(%(types)s) AND d.decommissioned_at IS NULL
  AND (%(exclude)s::text IS NULL OR NOT (d.id ~* %(exclude)s OR d.name ~* %(exclude)s))
  AND NOT ioc_alert_overdue(s.last_received_at, d.interval_s * %(offline_factor)s, %(now)s,
                            %(blind_start)s, %(blind_end)s)
  AND ioc_alert_cmp(l.value, %(op)s, t.clear_at)
"""


def _metric_of(types: list[str], name: str, field: str) -> Metric:
    missing = [t for t in types if name not in TYPES[t].metric_index]
    if missing:
        raise ValueError(f"{field} {name!r} is not a metric of device type(s) {missing}")
    return all_metrics()[name]


class _MetricRule(RuleBase):
    """Shared evaluation of threshold and state rules."""

    placeholders: ClassVar[frozenset[str]] = frozenset(
        {
            "metric",
            "metric_vi",
            "metric_en",
            "unit",
            "value",
            "value_vi",
            "op",
            "threshold",
            "threshold_en",
            "threshold_value",
        }
    )

    metric: str
    # Devices whose id or name matches this (case-insensitive) regex are left out, e.g. the
    # 4G routers that are always on 4G for ``link_on_backup``.
    exclude: str | None = None

    @field_validator("exclude")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regex {value!r}: {exc}") from exc
        return value

    def _params(self) -> dict[str, Any]:
        raise NotImplementedError

    def evaluate(self, conn: psycopg.Connection, ctx: EvalContext) -> list[Condition]:
        """Devices on the alerting side of the (clear) threshold."""
        params = {
            "metric": self.metric,
            "types": self.types,
            "now": ctx.now,
            "offline_factor": ctx.offline_factor,
            "blind_start": ctx.blind_start,
            "blind_end": ctx.blind_end,
            "percent_of": None,
            "exclude": self.exclude,
            **self._params(),
        }
        rows = conn.execute(THRESHOLD_SQL, params).fetchall()
        return [
            Condition(device_id, value, bool(fire), details={"threshold_value": fire_at})
            for device_id, value, fire_at, fire in rows
        ]

    def template_vars(self, cond: Condition) -> dict[str, Any]:
        """Metric names, unit, value and threshold for summaries."""
        metric = all_metrics()[self.metric]
        return {
            **super().template_vars(cond),
            "metric": self.metric,
            "metric_vi": metric.vi,
            "metric_en": metric.en,
            "unit": f" {glossary.unit(metric.unit)}" if metric.unit else "",
            "value": PerLanguage(*(self.value_text(cond.value, lang) for lang in ("vi", "en"))),
            "value_vi": metric.state_vi(self.value_text(cond.value, "vi")),
        }

    def annotations(self, cond: Condition) -> dict[str, Any]:
        """Adds the metric (root-cause selection looks for ``up``/``online``)."""
        return {**super().annotations(cond), "metric": self.metric}

    def value_text(self, value: float | None, lang: str) -> str:
        """The value as people read it in ``lang`` (``24,5`` in vi, ``24.5`` in en)."""
        return number_in(value, lang)


class ThresholdRule(_MetricRule):
    """``metric op value`` (optionally a percentage of another metric) with hysteresis."""

    kind: Literal["threshold"] = "threshold"
    op: Op
    value: float
    clear: float | None = None
    percent_of: str | None = None

    default_summary: ClassVar[Texts] = Texts(
        vi="{device_label}: {metric_vi} = {value}{unit} (ngưỡng {op} {threshold})",
        en="{device_label_en}: {metric_en} = {value}{unit} (threshold {op} {threshold_en})",
    )

    @model_validator(mode="after")
    def _check(self) -> ThresholdRule:
        _metric_of(self.types, self.metric, "metric")
        if self.percent_of is not None:
            _metric_of(self.types, self.percent_of, "percent_of")
        if self.clear is not None:
            above = self.op in (">", ">=")
            if (above and self.clear > self.value) or (not above and self.clear < self.value):
                side = "at or below" if above else "at or above"
                raise ValueError(f"clear must be {side} value {self.value} for op {self.op!r}")
        return self

    def _params(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "fire": self.value,
            "clear": self.value if self.clear is None else self.clear,
            "percent_of": self.percent_of,
        }

    def template_vars(self, cond: Condition) -> dict[str, Any]:
        """Adds the operator and threshold text."""
        texts = {}
        for lang in ("vi", "en"):
            text = glossary.number(self.value, lang)
            if self.percent_of:  # "20 % tốc độ bit cấu hình (409,6 kbit/s)", no field names
                base = all_metrics()[self.percent_of]
                at = cond.details.get("threshold_value")
                shown = glossary.quantity(at, base.unit, lang) if at is not None else "?"
                text = f"{text} % {glossary.metric_label(self.percent_of, lang).lower()} ({shown})"
            texts[lang] = text
        return {
            **super().template_vars(cond),
            "op": self.op,
            "threshold": texts["vi"],
            "threshold_en": texts["en"],
        }


class StateRule(_MetricRule):
    """A bool or enum metric equal (or not) to a state, e.g. ``disk_status != normal``."""

    kind: Literal["state"] = "state"
    op: EqOp = "=="
    value: str | float

    default_summary: ClassVar[Texts] = Texts(
        vi="{device_label}: {metric_vi} = {value_vi}",
        en="{device_label_en}: {metric_en} = {value}",
    )

    @model_validator(mode="after")
    def _check(self) -> StateRule:
        metric = _metric_of(self.types, self.metric, "metric")
        self._number(metric)
        return self

    def _number(self, metric: Metric) -> float:
        value = self.value
        if metric.kind == "enum":
            if value not in metric.enum_values:
                raise ValueError(
                    f"value {value!r} is not a state of {metric.name}; "
                    f"states: {list(metric.enum_values)}"
                )
            return float(metric.enum_values.index(str(value)))
        if isinstance(value, str):
            raise ValueError(f"value for {metric.kind} metric {metric.name} must be a number")
        return float(value)

    def _params(self) -> dict[str, Any]:
        number = self._number(all_metrics()[self.metric])
        return {"op": self.op, "fire": number, "clear": number}

    def value_text(self, value: float | None, lang: str) -> str:
        """Enum values by label."""
        metric = all_metrics()[self.metric]
        if (
            metric.kind == "enum"
            and value is not None
            and 0 <= int(value) < len(metric.enum_values)
        ):
            return metric.enum_values[int(value)]
        return super().value_text(value, lang)
