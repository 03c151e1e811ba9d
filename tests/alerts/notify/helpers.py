"""Test helpers for notifications: a loopback HTTP receiver, alert rows, notifier builder."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from alerts.notify.channels.smtp_settings import SmtpSettings
from alerts.notify.service import Notifier, build_notifier
from alerts.notify.settings import NotifySettings, NotifySetup
from alerts.telegram.settings import TelegramSettings
from alerts.zalo.settings import ZaloSettings

T0 = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)  # 14:00 in Hanoi


def at(seconds: float) -> datetime:
    """``T0`` plus some seconds: tests drive time instead of sleeping."""
    return T0 + timedelta(seconds=seconds)


@dataclass
class Request:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class HttpReceiver:
    """A real HTTP server on loopback in a thread; records requests, replies as scripted."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Request] = []
        self.replies: deque[tuple[int, dict[str, str], bytes]] = deque()
        self.delay = 0.0
        self.lock = threading.Lock()
        self.port = port
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reply(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        """Answer the next request with ``status`` (default afterwards: 200)."""
        data = json.dumps(body if body is not None else {"ok": status < 400}).encode()
        self.replies.append((status, headers or {}, data))

    def start(self) -> HttpReceiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if owner.delay:
                    time.sleep(owner.delay)  # a slow receiver, to overlap two deliverers
                with owner.lock:
                    owner.requests.append(Request(self.path, dict(self.headers.items()), body))
                    status, headers, data = (
                        owner.replies.popleft() if owner.replies else (200, {}, b'{"ok": true}')
                    )
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self.thread is not None:
            self.thread.join(5)


REGISTRY = [
    "INSERT INTO communes (code, name, province) VALUES "
    "('21025', 'Xã Tịnh Sơn', 'Quảng Ngãi'), ('21026', 'Xã Tịnh Hà', 'Quảng Ngãi')",
    "INSERT INTO sites (id, commune_code, name) VALUES "
    "('ts-ubnd', '21025', 'UBND xã Tịnh Sơn'), ('th-ubnd', '21026', 'UBND xã Tịnh Hà')",
    "INSERT INTO devices (id, type, commune_code, site_id, name, interval_s) VALUES "
    "('ts-uplink', 'link', '21025', 'ts-ubnd', 'Cáp quang UBND (VNPT)', 30), "
    "('th-cam-01', 'camera', '21026', 'th-ubnd', 'Camera Cổng Tịnh Hà', 60)",
]


def seed_registry(db: psycopg.Connection) -> None:
    """Two communes; an uplink with 10 cameras and 2 speakers behind it in 21025."""
    for statement in REGISTRY:
        db.execute(statement)
    for i in range(1, 13):
        kind = "camera" if i <= 10 else "speaker"
        db.execute(
            "INSERT INTO devices (id, type, commune_code, site_id, parent_id, name, interval_s) "
            "VALUES (%(id)s, %(type)s, '21025', 'ts-ubnd', 'ts-uplink', %(name)s, 60)",
            {"id": f"ts-{kind[:3]}-{i:02d}", "type": kind, "name": f"{kind.title()} số {i}"},
        )


INSERT_ALERT = """
INSERT INTO alerts (fingerprint, rule, kind, severity, state, device_id, commune_code, site_id,
    device_type, labels, annotations, summary, summary_en, started_at, fired_at, suppressed_by)
VALUES (%(fingerprint)s, %(rule)s, 'absence', %(severity)s, 'firing', %(device)s, %(commune)s,
    %(site)s, %(type)s, %(labels)s, %(annotations)s, %(summary)s, %(summary_en)s, %(fired_at)s,
    %(fired_at)s, %(suppressed_by)s)
RETURNING id
"""


def fire(
    db: psycopg.Connection,
    device: str,
    *,
    commune: str = "21025",
    site: str = "ts-ubnd",
    device_type: str = "camera",
    severity: str = "critical",
    rule: str = "device_offline",
    fired_at: datetime = T0,
    suppressed_by: int | None = None,
    annotations: dict[str, Any] | None = None,
    summary: str = "Thiết bị mất kết nối",
) -> int:
    """Insert a firing alert like the engine would and return its id."""
    labels = {
        "commune": commune,
        "site": site,
        "device": device,
        "type": device_type,
        "rule": rule,
        "severity": severity,
    }
    row = db.execute(
        INSERT_ALERT,
        {
            "fingerprint": f"{rule}:{device}:{uuid.uuid4().hex[:6]}",
            "rule": rule,
            "severity": severity,
            "device": device,
            "commune": commune,
            "site": site,
            "type": device_type,
            "labels": Jsonb(labels),
            "annotations": Jsonb(annotations or {"description": "Không nhận được dữ liệu"}),
            "summary": summary,
            "summary_en": "Device offline",
            "fired_at": fired_at,
            "suppressed_by": suppressed_by,
        },
    ).fetchone()
    assert row is not None
    return int(row[0])


def resolve(db: psycopg.Connection, alert_id: int, when: datetime) -> None:
    db.execute(
        "UPDATE alerts SET state = 'resolved', resolved_at = %(t)s WHERE id = %(id)s",
        {"t": when, "id": alert_id},
    )


def acknowledge(db: psycopg.Connection, alert_id: int, when: datetime) -> None:
    db.execute(
        "UPDATE alerts SET acknowledged_at = %(t)s, acknowledged_by = 'kỹ thuật viên Lan', "
        "ack_note = 'đang xử lý' WHERE id = %(id)s",
        {"t": when, "id": alert_id},
    )


def outbox(db: psycopg.Connection) -> list[dict[str, Any]]:
    """Every outbox row, oldest first."""
    with db.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute("SELECT * FROM notifications ORDER BY id").fetchall()


def webhook_config(url: str, **route: Any) -> dict[str, Any]:
    """A routes file with one webhook receiver taking everything."""
    return {
        "defaults": {"group_wait": "2s", "group_interval": "1m", "repeat_interval": "1h"},
        "receivers": [{"name": "ops", "webhook": {"url": url, "timeout": "2s"}}],
        "routes": [{"receiver": "ops", **route}],
    }


def notify_setup(
    *,
    smtp: SmtpSettings | None = None,
    telegram: TelegramSettings | None = None,
    zalo: ZaloSettings | None = None,
    **notify: Any,
) -> NotifySetup:
    """Notification settings for a test (nothing from .env): ``notify`` fields of
    NotifySettings, and each integration's settings when given (else its defaults)."""
    unknown = set(notify) - set(NotifySettings.model_fields)
    assert not unknown, f"NotifySettings has no {sorted(unknown)}"  # else silently ignored
    return NotifySetup(
        NotifySettings(_env_file=None, **notify),
        smtp or SmtpSettings(_env_file=None),
        telegram or TelegramSettings(_env_file=None),
        zalo or ZaloSettings(_env_file=None),
    )


def make_notifier(
    pool: ConnectionPool,
    tmp_path: Path,
    config: dict[str, Any],
    smtp: SmtpSettings | None = None,
    **settings: Any,
) -> Notifier:
    """A notifier reading ``config`` as its IOC_ALERTS_CONFIG file."""
    path = tmp_path / f"routes-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    values: dict[str, Any] = {
        "alerts_config": path,
        "public_url": "http://ioc.test",
        "backoff_base_s": 1.0,
        **settings,
    }
    return build_notifier(pool, notify_setup(smtp=smtp, **values))
