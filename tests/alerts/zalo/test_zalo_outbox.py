"""Zalo through the notifier: routing, grouping, the outbox and retries, like every channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from psycopg_pool import ConnectionPool

from alerts.notify.config import NotifyConfig
from alerts.notify.service import Notifier
from alerts.notify.settings import NotifySetup
from alerts.zalo.window import touch
from tests.alerts.zalo.fakezalo import FakeZalo
from tests.api.conftest import World

CONFIG = {
    "receivers": [
        {"name": "zl", "zalo": {"user_id": "8001", "fallback": "mail"}},
        {"name": "mail", "console": {}},
    ],
    "routes": [{"receiver": "zl", "matchers": ['commune="21025"']}],
    "default_receiver": "mail",
}


def _run(notifier: Notifier, start: datetime) -> datetime:
    now = start
    for _ in range(20):
        notifier.tick(now)
        notifier.deliver(now)
        now += timedelta(seconds=30)
    return now


def test_storm_through_the_outbox_with_an_expired_token(
    fake: FakeZalo,
    db: psycopg.Connection,
    world: World,
    pool: ConnectionPool,
    settings: NotifySetup,
) -> None:
    touch(db, "8001", datetime.now(UTC), "user_send_text")
    notifier = Notifier(pool, settings, NotifyConfig.model_validate(CONFIG))
    try:
        now = _run(notifier, datetime.now(UTC))
        (first,) = fake.sent_to("8001")  # one message for commune A's storm
        assert len(first["attachment"]["payload"]["buttons"]) == 3
        fake.expire()
        fake.refresh_delay_s = 0.1
        db.execute("UPDATE alerts SET state = 'resolved', resolved_at = now() WHERE id = ANY(%s)",
                   ([world.alerts["a_root"], world.alerts["a_warn"]],))  # fmt: skip
        _run(notifier, now)
    finally:
        notifier.close()
    assert len(fake.sent_to("8001")) == 2 and fake.refreshes == 2
    rows = db.execute(
        "SELECT receiver, state FROM notifications WHERE receiver = 'zl' ORDER BY id"
    ).fetchall()
    assert rows == [("zl", "sent"), ("zl", "sent")]
    notified = db.execute(
        "SELECT count(*) FROM alert_history WHERE action = 'notified' AND note LIKE '%%-> zl'"
    ).fetchone()
    assert notified is not None and notified[0] >= 2


def test_the_engine_serves_the_webhook(
    fake: FakeZalo, db: psycopg.Connection, pool: ConnectionPool, settings: NotifySetup
) -> None:
    from alerts.engine import AlertEngine
    from alerts.settings import AlertSettings
    from alerts.zalo.webhook import ZaloWebhook
    from tests.alerts.zalo.conftest import Users

    quiet = AlertSettings(pipeline_silence_s=0, pipeline_heartbeat_s=0)
    engine = AlertEngine(quiet, pool, rules=[], notify=settings)
    assert isinstance(engine.zalo, ZaloWebhook)
    engine.zalo.start()
    try:
        users = Users(fake, engine.zalo, db)
        assert users.say("7100", "xin chào").status_code == 200
        users.processed("text")
    finally:
        engine.stop()
    seen = db.execute("SELECT last_event FROM ioc_auth.zalo_contacts WHERE zalo_user_id = '7100'")
    assert seen.fetchone() == ("user_send_text",)
