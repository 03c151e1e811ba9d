"""The fault scenarios, shared by tests/reliability and bench/faults.py; each returns a ``Row``."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg_pool import ConnectionPool

from alerts.engine import AlertEngine
from alerts.rules import load_rules
from alerts.settings import AlertSettings
from tests.plugins.pgcluster import PgCluster
from tests.reliability import checker
from tests.reliability.rig import Row, Sizes, broker_log, run, subscriptions
from tests.util import wait_until

Scenario = Callable[[PgCluster, Sizes, Path], Row]


def ingest_signal(sig: signal.Signals, name: str) -> Scenario:
    """Ingest stopped by ``sig`` mid-stream and started again at once."""

    def scenario(pg: PgCluster, sizes: Sizes, workdir: Path) -> Row:
        with run(pg, sizes, workdir) as r:
            r.send([(r.stream(sizes.messages), sizes.rate)])
            r.wait_flowing(sizes.messages // 3)
            r.ingest.signal(sig)
            fault_end = time.monotonic()
            r.ingest.start()
            r.recovered(fault_end)
            return r.finish(name, "recovery includes starting a new ingest process")

    return scenario


def broker_restart(pg: PgCluster, sizes: Sizes, workdir: Path) -> Row:
    """Messages queued for ingest (it is frozen) survive a broker restart (persistence on)."""
    with run(pg, sizes, workdir) as r:
        n = sizes.messages
        msgs = r.stream(n)
        r.send([(msgs[: n // 2], sizes.rate)])
        r.wait_flowing(n // 4)
        assert r.ingest.proc is not None
        r.ingest.proc.send_signal(signal.SIGSTOP)  # stops acking: the broker queues
        try:
            r.sender.join(sizes.timeout_s)
            r.pub.wait_settled(sizes.timeout_s)
            subscribed = subscriptions(r)
            r.broker.restart()
            fault_end = time.monotonic()
        finally:
            r.ingest.proc.send_signal(signal.SIGCONT)
        wait_until(
            lambda: subscriptions(r) > subscribed,
            sizes.timeout_s,
            message="ingest resubscribed on the restarted broker",
        )
        r.send([(msgs[n // 2 :], sizes.rate)])  # devices resume once ingest is back (see below)
        r.recovered(fault_end)
        return r.finish("broker restart", "graceful restart with messages queued for ingest")


def broker_restart_devices_first(pg: PgCluster, sizes: Sizes, workdir: Path) -> Row:
    """After a broker restart, devices publish before ingest has reconnected."""
    with run(pg, sizes, workdir) as r:
        n = min(sizes.messages, 1000)
        seqs: dict[str, int] = {}
        msgs = r.stream(n, seqs=seqs)
        r.send([(msgs[: n // 2], sizes.rate)])
        r.sender.join(sizes.timeout_s)
        r.pub.wait_settled(sizes.timeout_s)
        assert r.ingest.proc is not None
        r.ingest.proc.send_signal(signal.SIGSTOP)  # ingest reconnects only after the devices
        try:
            subscribed = subscriptions(r)
            r.broker.restart()
            fault_end = time.monotonic()
            r.send([(msgs[n // 2 :], sizes.rate)])
            r.sender.join(sizes.timeout_s)
            r.pub.wait_settled(sizes.timeout_s)
        finally:
            r.ingest.proc.send_signal(signal.SIGCONT)
        wait_until(
            lambda: subscriptions(r) > subscribed,
            sizes.timeout_s,
            message="ingest resubscribed on the restarted broker",
        )
        tail = r.stream(40, first=n, seqs=seqs)
        r.send([(tail, sizes.rate)])
        r.recovered_tail(fault_end, tail)
        refused = sum(1 for rc in r.pub.reason_codes if "No matching subscribers" in rc)
        note = f"{refused} PUBACKs said 'No matching subscribers' (0x10)"
        return r.finish("broker restart, devices reconnect first", note, lossy=True)


def pg_outage(pg: PgCluster, sizes: Sizes, workdir: Path) -> Row:
    """PostgreSQL stopped (fast shutdown) for ``pg_outage_s`` mid-stream, then started."""
    with run(pg, sizes, workdir) as r:
        r.send([(r.stream(sizes.messages), sizes.rate)])
        r.wait_flowing(sizes.messages // 3)
        pg.stop("fast")
        time.sleep(sizes.pg_outage_s)  # the fault's duration, a scenario parameter
        pg.start()
        r.recovered(time.monotonic())
        return r.finish(f"PostgreSQL down {sizes.pg_outage_s:g} s", "ingest retry_max_s 2")


def pg_crash(pg: PgCluster, sizes: Sizes, workdir: Path) -> Row:
    """PostgreSQL crashed (`pg_ctl stop -m immediate`) while batches commit, then restarted."""
    with run(pg, sizes, workdir) as r:
        r.send([(r.stream(sizes.messages), sizes.rate)])
        r.wait_flowing(sizes.messages // 3)
        pg.stop("immediate")
        pg.start()  # crash recovery
        r.recovered(time.monotonic())
        return r.finish("PostgreSQL killed mid-commit", "pg_ctl stop -m immediate")


def poison(pg: PgCluster, sizes: Sizes, workdir: Path) -> Row:
    """One message in 20 is poison (bad JSON, NaN, unknown device, unknown metric)."""
    dense = Sizes(**{**sizes.__dict__, "poison_every": 20})
    with run(pg, dense, workdir) as r:
        r.send([(r.stream(sizes.messages), sizes.rate)])
        r.sender.join(sizes.timeout_s)
        r.recovered(time.monotonic())
        return r.finish("poison messages (1 in 20)", "each quarantined once, stream continues")


def broker_stall(pg: PgCluster, sizes: Sizes, workdir: Path) -> Row:
    """Mosquitto frozen (SIGSTOP) longer than the clients' keepalive, then SIGCONT."""
    with run(pg, sizes, workdir) as r:
        r.send([(r.stream(sizes.messages), sizes.rate)])
        r.wait_flowing(sizes.messages // 3)
        assert r.broker.proc is not None
        marker = f" as ioc-ingest-{r.ingest.instance} "
        connects = broker_log(r.broker).count(marker)
        os.kill(r.broker.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(sizes.stall_s)  # the fault's duration, a scenario parameter
        finally:
            os.kill(r.broker.proc.pid, signal.SIGCONT)
        r.recovered(time.monotonic())
        wait_until(
            lambda: broker_log(r.broker).count(marker) > connects,
            sizes.timeout_s,
            message="ingest reconnected after the stall (its keepalive expired)",
        )
        note = f"stall {sizes.stall_s:g} s > keepalive 5 s; ingest reconnected"
        return r.finish("broker stall past keepalive", note)


def burst(pg: PgCluster, sizes: Sizes, workdir: Path) -> Row:
    """Steady rate, then 10× the rate for 60% of the messages, then steady again."""
    with run(pg, sizes, workdir) as r:
        n = sizes.messages
        msgs = r.stream(n)
        a, b = n // 5, n // 5 + 3 * n // 5
        r.send([(msgs[:a], sizes.rate), (msgs[a:b], 10 * sizes.rate), (msgs[b:], sizes.rate)])
        wait_until(lambda: len(r.pub.sent) >= a, sizes.timeout_s, message="burst started")
        began = time.monotonic()
        wait_until(lambda: len(r.pub.sent) >= b, sizes.timeout_s, message="burst sent")
        ended = time.monotonic()
        r.recovered(ended)
        achieved = (b - a) / max(ended - began, 1e-3)
        note = f"burst published at {achieved:.0f} msg/s; recovery from the burst's end"
        return r.finish(f"burst 10x ({10 * sizes.rate:g} msg/s asked)", note)


def backlog_over_queue(pg: PgCluster, sizes: Sizes, workdir: Path) -> tuple[Row, dict[str, object]]:
    """Ingest down while more messages arrive than the broker may queue for its session.

    The alert engine (default rules, in-process) runs from before the fault: the loss must
    open a `device_seq_gaps` alert for every device with a gap.
    """
    q = sizes.backlog_queue
    with (
        run(pg, sizes, workdir, broker_conf=f"max_queued_messages {q}") as r,
        ConnectionPool(pg.url, min_size=1, max_size=2) as pool,
        seq_gap_engine(pool) as engine,
    ):
        since = datetime.now(UTC)
        engine.evaluate_once()  # the engine was running before the loss: counters known
        seqs: dict[str, int] = {}
        backlog = r.stream(max(3 * q, sizes.messages // 2), seqs=seqs)
        r.ingest.signal(signal.SIGTERM)
        r.send([(backlog, sizes.rate * 4)])
        r.sender.join(sizes.timeout_s)
        r.pub.wait_settled(sizes.timeout_s)
        fault_end = time.monotonic()
        r.ingest.start()
        tail = r.stream(80, first=len(backlog), seqs=seqs)
        r.send([(tail, sizes.rate)])
        r.recovered_tail(fault_end, tail)
        row = r.finish(f"offline backlog > queue ({q})", "broker drops; must be detected", True)
        log = broker_log(r.broker)
        detected: dict[str, object] = {
            "seq_gaps": row.seq_gaps,
            "broker_log_dropping": "are being dropped" in log,
        }
        gaps = r.poll.get(lambda db: checker.seq_gaps(db, sorted({m.device for m in tail})), -1)
        detected["seq_gaps_tail_devices"] = gaps
        with psycopg.connect(pg.url, autocommit=True) as db:
            gap_devices = _devices_with_gaps(db)
            with contextlib.suppress(AssertionError):  # the caller judges what was seen
                wait_until(
                    lambda: _seq_gap_alerts(engine, db, since) >= gap_devices,
                    sizes.timeout_s,
                    0.2,
                    message=f"{SEQ_GAP_RULE} alerts firing for {sorted(gap_devices)}",
                )
            detected["seq_gap_devices"] = sorted(gap_devices)
            detected["seq_gap_alerts"] = _alert_gaps(db, since)
        return row, detected


SEQ_GAP_RULE = "device_seq_gaps"


@contextlib.contextmanager
def seq_gap_engine(pool: ConnectionPool) -> Iterator[AlertEngine]:
    """An alert engine with the default rules, the sequence-gap hold shrunk to nothing."""
    settings = AlertSettings(pipeline_silence_s=0, pipeline_heartbeat_s=0)
    rules = [
        rule.model_copy(update={"for_": timedelta(0)}) if rule.name == SEQ_GAP_RULE else rule
        for rule in load_rules(settings.rules_path())
    ]
    assert any(rule.name == SEQ_GAP_RULE for rule in rules), "default rule missing"
    engine = AlertEngine(settings, pool, rules=rules)
    try:
        yield engine
    finally:
        engine.stop()


def _devices_with_gaps(db: psycopg.Connection) -> set[str]:
    rows = db.execute("SELECT device_id FROM device_status WHERE seq_gaps > 0").fetchall()
    return {row[0] for row in rows}


def _seq_gap_alerts(engine: AlertEngine, db: psycopg.Connection, since: datetime) -> set[str]:
    """One evaluation; the devices with a firing sequence-gap alert opened since ``since``."""
    engine.evaluate_once()
    rows = db.execute(
        "SELECT device_id FROM alerts WHERE rule = %s AND state = 'firing' AND started_at >= %s",
        (SEQ_GAP_RULE, since),
    ).fetchall()
    return {row[0] for row in rows}


def _alert_gaps(db: psycopg.Connection, since: datetime) -> dict[str, int]:
    """Firing sequence-gap alerts opened since ``since``: device → gaps (annotation)."""
    rows = db.execute(
        "SELECT device_id, (annotations ->> 'gaps')::int FROM alerts"
        " WHERE rule = %s AND state = 'firing' AND started_at >= %s",
        (SEQ_GAP_RULE, since),
    ).fetchall()
    return dict(rows)


SCENARIOS: dict[str, Scenario] = {
    "sigterm": ingest_signal(signal.SIGTERM, "ingest SIGTERM mid-stream"),
    "sigkill": ingest_signal(signal.SIGKILL, "ingest SIGKILL mid-stream"),
    "broker_restart": broker_restart,
    "broker_restart_devices_first": broker_restart_devices_first,
    "pg_outage": pg_outage,
    "pg_crash": pg_crash,
    "poison": poison,
    "broker_stall": broker_stall,
    "burst": burst,
}
