"""Routes file validation, route matching with ``continue``, and escalation."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg_pool import ConnectionPool

from alerts.notify import store
from alerts.notify.config import Matcher, load_config
from alerts.notify.planner import matching_routes, plan
from ioc.errors import ConfigError
from tests.alerts.notify.helpers import (
    HttpReceiver,
    acknowledge,
    at,
    fire,
    make_notifier,
    outbox,
)

EXAMPLE = Path(__file__).parents[3] / "alerts" / "notify" / "example_config.yaml"


def _load(tmp_path: Path, data: object) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    load_config(path)


def test_example_config_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert {r.channel for r in config.receivers} == {
        "webhook",
        "email",
        "telegram",
        "console",
        "zalo",
    }
    assert load_config(None).default_receiver == "console"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"receivers": [{"name": "a", "console": {}}], "routes": [{"receiver": "b"}]},
            "routes[0] (b): receiver 'b' is not a defined receiver",
        ),
        (
            {
                "receivers": [{"name": "a", "console": {}}],
                "routes": [{"name": "x", "receiver": "a", "group_wait": "soon"}],
            },
            "routes.0.group_wait (route 'x'): Value error, invalid duration 'soon'",
        ),
        (
            {"receivers": [{"name": "hook", "webhook": {"url": "ftp://x"}}]},
            "receivers.0.webhook.url (receiver 'hook')",
        ),
        (
            {"receivers": [{"name": "both", "console": {}, "webhook": {"url": "http://x"}}]},
            "receiver 'both' needs exactly one of webhook, email, telegram, console",
        ),
        (
            {"receivers": [{"name": "a", "console": {}, "colour": "red"}]},
            "receivers.0.colour (receiver 'a'): Extra inputs are not permitted",
        ),
        (
            {
                "receivers": [{"name": "a", "console": {}}],
                "routes": [{"receiver": "a", "matchers": ["severity critical"]}],
            },
            'is not like severity="critical"',
        ),
        (
            {
                "receivers": [{"name": "a", "console": {}}],
                "routes": [
                    {
                        "receiver": "a",
                        "escalation": [
                            {"after": "1h", "receiver": "a"},
                            {"after": "5m", "receiver": "a"},
                        ],
                    }
                ],
            },
            "escalation steps must have increasing 'after'",
        ),
    ],
)
def test_config_errors_name_the_place(tmp_path: Path, data: object, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, data)
    assert expected in str(info.value)


def test_missing_secret_env_names_the_receiver(
    pool: ConnectionPool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    config = {
        "receivers": [{"name": "tg", "telegram": {"chat_id": 1, "bot_token_env": "NO_SUCH_TOKEN"}}],
        "default_receiver": "tg",
    }
    with pytest.raises(ConfigError, match=r"receiver 'tg': telegram.bot_token_env names \$NO_SUCH"):
        make_notifier(pool, tmp_path, config)


def test_matchers_and_continue(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "receivers": [{"name": n, "console": {}} for n in ("oncall", "hanoi", "all")],
                "routes": [
                    {
                        "name": "crit",
                        "receiver": "oncall",
                        "continue": True,
                        "matchers": ['severity="critical"', "type!=speaker"],
                    },
                    {"name": "ts", "receiver": "hanoi", "matchers": ["commune=~210(25|26)"]},
                ],
                "default_receiver": "all",
            }
        ),
        encoding="utf-8",
    )
    config = load_config(path)

    def names(**labels: str) -> list[str]:
        return [n for n, _ in matching_routes(config, labels)]

    assert names(severity="critical", type="camera", commune="21025") == ["crit", "ts"]
    assert names(severity="critical", type="speaker", commune="21025") == ["ts"]
    assert names(severity="critical", type="camera", commune="30000") == ["crit"]
    assert names(severity="warning", type="camera", commune="30000") == ["default"]
    assert Matcher.model_validate("rule!~link_.*").matches({"rule": "device_offline"})


def test_routes_send_each_receiver_its_own_group(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    db = registry
    config = {
        "defaults": {"group_wait": "2s"},
        "receivers": [
            {"name": "ts", "webhook": {"url": f"{receiver.url}/ts"}},
            {"name": "th", "webhook": {"url": f"{receiver.url}/th"}},
        ],
        "routes": [
            {"receiver": "ts", "matchers": ["commune=21025"]},
            {"receiver": "th", "matchers": ["commune=21026"]},
        ],
    }
    notifier = make_notifier(pool, tmp_path, config)
    fire(db, "ts-cam-01")
    fire(db, "th-cam-01", commune="21026", site="th-ubnd", severity="warning")
    fire(db, "ts-cam-02", commune="99999", site="ts-ubnd")  # no route, no default: dropped
    notifier.tick(at(2))
    assert notifier.deliver(at(2)) == 2
    assert sorted(r.path for r in receiver.requests) == ["/th", "/ts"]
    by_path = {r.path: r.json() for r in receiver.requests}
    assert [a["device_id"] for a in by_path["/th"]["alerts"]] == ["th-cam-01"]
    notifier.close()


def test_escalation_when_not_acknowledged(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    db = registry
    config = {
        "defaults": {"group_wait": "2s", "repeat_interval": "1d"},
        "receivers": [
            {"name": "tech", "webhook": {"url": f"{receiver.url}/tech"}},
            {"name": "lead", "webhook": {"url": f"{receiver.url}/lead"}},
            {"name": "director", "webhook": {"url": f"{receiver.url}/director"}},
        ],
        "routes": [
            {
                "receiver": "tech",
                "escalation": [
                    {"after": "15m", "receiver": "lead"},
                    {"after": "1h", "receiver": "director"},
                ],
            }
        ],
    }
    notifier = make_notifier(pool, tmp_path, config)
    ignored = fire(db, "ts-cam-01")
    handled = fire(db, "ts-cam-02")
    notifier.tick(at(2))
    acknowledge(db, handled, at(300))
    notifier.tick(at(899))
    assert [r["receiver"] for r in outbox(db)] == ["tech"]
    notifier.tick(at(900))
    notifier.tick(at(901))
    rows = outbox(db)
    assert [(r["kind"], r["receiver"], r["alert_ids"]) for r in rows[1:]] == [
        ("escalation", "lead", [ignored])
    ]
    level = db.execute("SELECT escalation_level FROM alerts WHERE id = %s", [ignored]).fetchone()
    assert level == (1,)
    history = db.execute(
        "SELECT action, data->>'receiver' FROM alert_history WHERE alert_id = %s", [ignored]
    ).fetchall()
    assert history == [("escalated", "lead")]
    notifier.tick(at(3600))
    assert [r["receiver"] for r in outbox(db)] == ["tech", "lead", "director"]
    assert notifier.deliver(at(3600)) == 3
    body = next(r.json() for r in receiver.requests if r.path == "/director")
    assert body["title"].startswith("[CHUYỂN CẤP 2]")
    assert "chuyển cấp 2" in body["text"]
    notified = db.execute(
        "SELECT count(*) FROM alert_history WHERE alert_id = %s AND action = 'notified'",
        [ignored],
    ).fetchone()
    assert notified == (3,)

    # Resolution reaches the route's receiver and every escalation receiver, once each.
    db.execute("UPDATE alerts SET state = 'resolved', resolved_at = %s", [at(4000)])
    notifier.tick(at(4001))
    notifier.tick(at(4400))
    resolved = [(r["receiver"], r["alert_ids"]) for r in outbox(db) if r["kind"] == "resolved"]
    assert sorted(resolved) == [
        ("director", [ignored]),
        ("lead", [ignored]),
        ("tech", sorted([ignored, handled])),
    ]
    notifier.tick(at(9000))
    assert len(outbox(db)) == 6
    notifier.close()


def test_escalation_applies_only_to_alerts_still_due_when_the_plan_is_written(
    registry: psycopg.Connection, pool: ConnectionPool, receiver: HttpReceiver, tmp_path: Path
) -> None:
    """Acknowledged between plan and apply: that alert is neither escalated nor sent."""
    db = registry
    config = {
        "receivers": [
            {"name": "tech", "webhook": {"url": f"{receiver.url}/tech"}},
            {"name": "lead", "webhook": {"url": f"{receiver.url}/lead"}},
        ],
        "routes": [{"receiver": "tech", "escalation": [{"after": "15m", "receiver": "lead"}]}],
    }
    notifier = make_notifier(pool, tmp_path, config)
    ignored, handled = fire(db, "ts-cam-01"), fire(db, "ts-cam-02")
    notifier.tick(at(2))
    with pool.connection() as conn, conn.transaction():
        state = store.read(conn, at(0))
    assert state is not None
    planned = plan(notifier.config, state, at(900), timedelta(0), "vi")
    assert planned == plan(notifier.config, state, at(900), timedelta(0), "vi")  # pure
    assert [e.note.message.alert_ids for e in planned.escalations] == [sorted([ignored, handled])]
    acknowledge(db, handled, at(899))
    with pool.connection() as conn, conn.transaction():
        enqueued = store.apply(conn, planned, at(900))
    assert [(n.message.kind, n.message.receiver, n.message.alert_ids) for _, n in enqueued] == [
        ("escalation", "lead", [ignored])
    ]
    assert [(r["receiver"], r["alert_ids"]) for r in outbox(db)][1:] == [("lead", [ignored])]
    levels = dict(db.execute("SELECT id, escalation_level FROM alerts").fetchall())
    assert levels == {ignored: 1, handled: 0}
    lead_group = db.execute("SELECT alert_ids FROM notify_groups WHERE route LIKE '%~L1'")
    assert lead_group.fetchall() == [([ignored],)]
    notifier.close()
