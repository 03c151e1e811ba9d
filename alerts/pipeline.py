"""Self-monitoring: one ``pipeline_down`` alert when ingest stops, and the blind window.

Ingest is down when none of its instances heartbeats (table ``ingest_instances``, when it
exists) or when no device message at all arrived for a while. Silence inside that window is
not the devices' fault: rules and reachability use the window to hold back offline alerts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from alerts.rules.base import Condition, Texts

log = logging.getLogger(__name__)

RULE = "pipeline_down"
HAS_INSTANCES_SQL = "SELECT to_regclass('public.ingest_instances') IS NOT NULL"
HEARTBEAT_SQL = "SELECT max(heartbeat_at) FROM ingest_instances"
LAST_WRITE_SQL = "SELECT max(last_received_at) FROM device_status"
WINDOW_SQL = """
SELECT coalesce((annotations ->> 'blind_start')::timestamptz, started_at), resolved_at
FROM alerts WHERE rule = 'pipeline_down' ORDER BY started_at DESC LIMIT 1
"""


@dataclass(frozen=True)
class PipelineRule:
    """The built-in rule behind the ``pipeline_down`` alert."""

    heartbeat_s: float
    silence_s: float
    name: str = RULE
    kind: str = "pipeline"
    severity: str = "critical"
    for_: timedelta = timedelta(0)

    def fingerprint(self, cond: Condition) -> str:
        """One alert for the whole pipeline."""
        return RULE

    def texts(self) -> Texts:
        """Fixed texts."""
        return Texts(
            vi="Hệ thống giám sát ngừng nhận dữ liệu ({reason_vi}); tạm hoãn cảnh báo mất kết nối",
            en="Monitoring pipeline down ({reason}); offline alerts held back",
        )

    def template_vars(self, cond: Condition) -> dict[str, Any]:
        """The reason in both languages."""
        reason = cond.details.get("reason", "")
        reason_vi = {
            "no_heartbeat": "dịch vụ tiếp nhận dữ liệu không còn hoạt động",
            "ingest_offline": "dịch vụ tiếp nhận dữ liệu mất kết nối với máy chủ MQTT",
            "no_data": "không có dữ liệu từ thiết bị nào",
            "broker_restart": "máy chủ MQTT khởi động lại hoặc mất kết nối",
        }.get(reason, reason)
        return {"reason": reason, "reason_vi": reason_vi}

    def annotations(self, cond: Condition) -> dict[str, Any]:
        """Why, and since when the engine is blind."""
        return {"kind": self.kind, **cond.details}

    def check(
        self,
        conn: psycopg.Connection,
        now: datetime,
        ingest_offline: bool = False,
        broker_dropped: datetime | None = None,
    ) -> list[Condition]:
        """A condition when ingest looks down (``ingest_offline``: its MQTT last will;
        ``broker_dropped``: the broker went away and has not settled since)."""
        if broker_dropped is not None:
            return [_down("broker_restart", broker_dropped)]
        (has_table,) = conn.execute(HAS_INSTANCES_SQL).fetchone() or (False,)
        heartbeat = None
        if has_table:
            (heartbeat,) = conn.execute(HEARTBEAT_SQL).fetchone() or (None,)
        if ingest_offline:
            return [_down("ingest_offline", min(heartbeat or now, now))]
        limit = timedelta(seconds=self.heartbeat_s)
        if self.heartbeat_s > 0 and heartbeat is not None and heartbeat < now - limit:
            return [_down("no_heartbeat", heartbeat)]
        if self.silence_s > 0:
            (last,) = conn.execute(LAST_WRITE_SQL).fetchone() or (None,)
            if last is not None and last < now - timedelta(seconds=self.silence_s):
                return [_down("no_data", last)]
        return []


def _down(reason: str, since: datetime) -> Condition:
    return Condition(
        None,
        None,
        True,
        details={"reason": reason, "blind_start": since.isoformat()},
    )


def blind_window(conn: psycopg.Connection) -> tuple[datetime | None, datetime | None]:
    """(start, end) of the latest pipeline outage; end is None while it lasts."""
    row = conn.execute(WINDOW_SQL).fetchone()
    if row is None:
        return None, None
    return row[0], row[1]
