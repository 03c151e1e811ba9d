"""The durable outbox: retries, permanent failures, ordering, crash recovery, no duplicates."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
from psycopg_pool import ConnectionPool

from alerts.notify.channels.smtp_settings import SmtpSettings
from alerts.notify.outbox import backoff
from ioc.ports import free_port
from tests.alerts.notify.helpers import (
    HttpReceiver,
    at,
    fire,
    make_notifier,
    outbox,
    resolve,
    webhook_config,
)


def test_receiver_down_then_back_is_delivered_once(
    registry: psycopg.Connection, pool: ConnectionPool, tmp_path: Path
) -> None:
    db = registry
    port = free_port()
    down = HttpReceiver(port)  # not started: connection refused
    notifier = make_notifier(pool, tmp_path, webhook_config(down.url))
    fire(db, "ts-cam-01")
    notifier.tick(at(2))
    assert notifier.deliver(at(2)) == 0
    row = outbox(db)[0]
    assert row["state"] == "pending"
    assert row["attempts"] == 1
    assert "ConnectError" in row["last_error"]
    assert row["next_attempt_at"] > at(2)
    assert notifier.deliver(at(2.1)) == 0  # backing off: not even tried
    assert outbox(db)[0]["attempts"] == 1

    # A restart of the notifier (new process) keeps the row; the receiver comes back.
    notifier.close()
    notifier = make_notifier(pool, tmp_path, webhook_config(down.url))
    up = HttpReceiver(port).start()
    try:
        assert notifier.deliver(at(600)) == 1
        assert notifier.deliver(at(1200)) == 0
        assert len(up.requests) == 1
        row = outbox(db)[0]
        assert (row["state"], row["attempts"]) == ("sent", 2)
        request = up.requests[0]
        assert request.headers["Idempotency-Key"] == row["dedup_key"]
        assert request.json()["notification_id"] == row["id"]
    finally:
        up.stop()
        notifier.close()


def test_server_errors_back_off_and_retry_after_is_honoured(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    db = registry
    notifier = make_notifier(pool, tmp_path, webhook_config(receiver.url))
    fire(db, "ts-cam-01")
    notifier.tick(at(2))
    receiver.reply(503)
    receiver.reply(429, headers={"Retry-After": "120"})
    assert notifier.deliver(at(2)) == 0
    first = outbox(db)[0]
    assert "HTTP 503" in first["last_error"]
    assert at(2.5) <= first["next_attempt_at"] <= at(3)  # base 1s with jitter
    assert notifier.deliver(at(3)) == 0
    second = outbox(db)[0]
    assert "HTTP 429" in second["last_error"]
    assert second["next_attempt_at"] == at(123)
    assert notifier.deliver(at(122)) == 0
    assert notifier.deliver(at(123)) == 1
    assert len(receiver.requests) == 3
    assert outbox(db)[0]["state"] == "sent"
    notifier.close()


def test_timeout_is_retried(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    db = registry
    config = webhook_config(receiver.url)
    config["receivers"][0]["webhook"]["timeout"] = "200ms"
    notifier = make_notifier(pool, tmp_path, config)
    fire(db, "ts-cam-01")
    notifier.tick(at(2))
    receiver.delay = 1.0
    assert notifier.deliver(at(2)) == 0
    row = outbox(db)[0]
    assert (row["state"], row["attempts"]) == ("pending", 1)
    assert "ReadTimeout" in row["last_error"]
    receiver.delay = 0.0
    assert notifier.deliver(at(60)) == 1
    notifier.close()


def test_permanent_error_is_recorded_as_failed(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    db = registry
    notifier = make_notifier(pool, tmp_path, webhook_config(receiver.url))
    fire(db, "ts-cam-01")
    notifier.tick(at(2))
    receiver.reply(400, {"error": "bad payload"})
    assert notifier.deliver(at(2)) == 0
    assert notifier.deliver(at(10_000)) == 0
    row = outbox(db)[0]
    assert row["state"] == "failed"
    assert row["attempts"] == 1
    assert "HTTP 400" in row["last_error"] and "bad payload" in row["last_error"]
    assert len(receiver.requests) == 1
    notifier.close()


def test_gives_up_after_max_attempts(
    registry: psycopg.Connection, pool: ConnectionPool, tmp_path: Path
) -> None:
    db = registry
    dead = HttpReceiver(free_port())
    notifier = make_notifier(pool, tmp_path, webhook_config(dead.url), max_attempts=3)
    fire(db, "ts-cam-01")
    notifier.tick(at(2))
    for hour in range(1, 5):
        notifier.deliver(at(hour * 3600))
    row = outbox(db)[0]
    assert (row["state"], row["attempts"]) == ("failed", 3)
    assert row["last_error"].startswith("gave up after 3 attempts")
    notifier.close()


def test_resolution_never_overtakes_its_firing_message(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    db = registry
    notifier = make_notifier(pool, tmp_path, webhook_config(receiver.url, group_interval="1s"))
    alert = fire(db, "ts-cam-01")
    notifier.tick(at(2))
    receiver.reply(429, headers={"Retry-After": "60"})
    assert notifier.deliver(at(2)) == 0  # firing message backs off until at(62)
    resolve(db, alert, at(2.2))
    notifier.tick(at(3))
    assert [r["kind"] for r in outbox(db)] == ["firing", "resolved"]
    assert notifier.deliver(at(61)) == 0  # resolved is due but waits for its firing
    assert notifier.deliver(at(62)) == 2
    kinds = [r.json()["kind"] for r in receiver.requests]
    assert kinds == ["firing", "firing", "resolved"]
    notifier.close()


def test_two_concurrent_deliverers_never_send_twice(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    db = registry
    config = webhook_config(receiver.url, group_by=["device"])
    one, two = make_notifier(pool, tmp_path, config), make_notifier(pool, tmp_path, config)
    for i in range(1, 11):
        fire(db, f"ts-cam-{i:02d}")
    fire(db, "th-cam-01", commune="21026", site="th-ubnd")
    one.tick(at(2))
    assert len(outbox(db)) == 11
    receiver.delay = 0.02
    counts: list[int] = []
    barrier = threading.Barrier(2)

    def run(notifier: object) -> None:
        barrier.wait()
        counts.append(notifier.deliver(at(2)))  # type: ignore[attr-defined]

    threads = [threading.Thread(target=run, args=(n,)) for n in (one, two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(counts) == 11
    assert min(counts) > 0, "both deliverers should have taken part"
    ids = [r.headers["X-IOC-Notification-Id"] for r in receiver.requests]
    assert len(ids) == 11 and len(set(ids)) == 11
    assert {r["state"] for r in outbox(db)} == {"sent"}
    one.close()
    two.close()


def test_crash_mid_send_resends_webhooks_but_not_email(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    db = registry
    config = webhook_config(receiver.url)
    config["receivers"].append({"name": "mail", "email": {"to": ["ops@example.test"]}})
    config["routes"][0]["continue"] = True
    config["routes"].append({"receiver": "mail"})
    notifier = make_notifier(
        pool, tmp_path, config, smtp=SmtpSettings(_env_file=None, port=free_port())
    )
    fire(db, "ts-cam-01")
    notifier.tick(at(2))
    assert {r["channel"] for r in outbox(db)} == {"webhook", "email"}
    # Another process claimed both rows and died before recording the outcome.
    db.execute(
        "UPDATE notifications SET state = 'sending', attempts = 1, claimed_by = 'dead', "
        "lease_until = %(t)s",
        {"t": at(60)},
    )
    assert notifier.deliver(at(30)) == 0  # lease still held
    assert notifier.deliver(at(61)) == 1
    rows = {r["channel"]: r for r in outbox(db)}
    assert rows["webhook"]["state"] == "sent"
    assert rows["email"]["state"] == "failed"
    assert "outcome unknown" in rows["email"]["last_error"]
    assert len(receiver.requests) == 1
    notifier.close()


def test_finished_rows_are_purged_after_retention(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    db = registry
    notifier = make_notifier(pool, tmp_path, webhook_config(receiver.url), retention_days=1)
    fire(db, "ts-cam-01")
    notifier.tick(at(2))
    assert notifier.deliver(at(2)) == 1
    fire(db, "ts-cam-02", fired_at=at(86_000))
    notifier.tick(at(86_400))
    notifier.close()  # a new process: purging happens at most hourly per process
    notifier = make_notifier(pool, tmp_path, webhook_config(receiver.url), retention_days=1)
    receiver.reply(503)
    notifier.deliver(at(86_403))  # purges the first (sent) row; the pending one stays
    assert [r["state"] for r in outbox(db)] == ["pending"]
    notifier.close()


def test_backoff_grows_with_jitter_and_caps() -> None:
    delays = [backoff(n, 2.0, 300.0, None) for n in range(1, 12)]
    assert 1.0 <= delays[0] <= 2.0
    assert 4.0 <= delays[2] <= 8.0
    assert all(d <= 300.0 for d in delays)
    assert backoff(1, 2.0, 300.0, 30.0) == 30.0
