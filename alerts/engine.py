"""The alert engine: one evaluation per tick (leader only), plus the notifier's jobs.

A tick, in one transaction: self-monitoring (pipeline_down and the blind window),
reachability and topology, every rule set-wise, then inhibition, silences and impact.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

import psycopg
from apscheduler.schedulers.background import BackgroundScheduler
from psycopg_pool import ConnectionPool

from alerts.channel_health import ChannelDownRule
from alerts.deadman import Heartbeat
from alerts.holds import HoldPolicy, broker_restart_wills, parents_unknown, presumed_down
from alerts.ingest_watch import IngestWatch
from alerts.inhibit import apply_mutes, root_alerts
from alerts.inhibit_rules import InhibitRule
from alerts.leader import LeaderLock
from alerts.lifecycle import OpenAlert, Transitions, apply_rule, load_open
from alerts.notify.settings import NotifySetup
from alerts.pipeline import PipelineRule, blind_window
from alerts.reachability import Reachability, ReachabilityResult
from alerts.rules import EvalContext, RuleBase, load_rules_file
from alerts.settings import AlertSettings
from alerts.silences import Silencer

log = logging.getLogger(__name__)

CHANNEL_DOWN = ChannelDownRule()
CLEANUP_SQL = "DELETE FROM alerts WHERE state = 'resolved' AND resolved_at < %(before)s"


class Notifications(Protocol):
    """What the engine drives of the notifier (``alerts.notify.service.Notifier``)."""

    def tick(self, now: datetime) -> None: ...
    def deliver(self, now: datetime) -> int: ...
    def close(self) -> None: ...


class Background(Protocol):
    """A receiver of chat events (Telegram, Zalo) running in its own thread."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


class LostLeadership(Exception):
    """The lock session no longer holds the leader lock; nothing was written."""


@dataclass
class EvaluationResult:
    """What one evaluation did."""

    now: datetime
    transitions: Transitions
    reachability: ReachabilityResult
    mutes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    rule_errors: list[str] = field(default_factory=list)
    # Silences that could not be evaluated this time (id → reason); they muted nothing.
    silences_skipped: dict[int, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def utc_now() -> datetime:
    """The wall clock in UTC."""
    return datetime.now(UTC)


class AlertEngine:
    """Rule evaluation, lifecycle and topology; with ``start()``, a leader-elected scheduler."""

    def __init__(
        self,
        settings: AlertSettings,
        pool: ConnectionPool,
        *,
        rules: list[RuleBase] | None = None,
        inhibit_rules: list[InhibitRule] | None = None,
        notify: NotifySetup | None = None,
        mqtt_url: str | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.pool = pool
        if rules is None:
            loaded = load_rules_file(settings.rules_path())
            rules = [r for r in loaded.rules if r.enabled]
            inhibit_rules = loaded.inhibit_rules if inhibit_rules is None else inhibit_rules
        self.rules = rules
        self.inhibit_rules = inhibit_rules or []
        self.clock = clock
        self.pipeline = PipelineRule(settings.pipeline_heartbeat_s, settings.pipeline_silence_s)
        self.reachability = Reachability(
            settings.stale_factor,
            settings.offline_factor,
            settings.topology_refresh_s,
        )
        self.holds = HoldPolicy.from_settings(settings)
        conninfo = pool.conninfo if isinstance(pool.conninfo, str) else pool.conninfo()
        self.leader = LeaderLock(conninfo, settings.leader_lock_key, settings.leader_retry_s)
        # Notifications only with settings (built by the entry point: ioc alerts, ioc demo).
        self.notifier: Notifications | None = (
            _build_notifier(pool, notify) if notify is not None else None
        )
        # Telegram button presses: received by the leader only (one getUpdates consumer per bot).
        self.telegram: Background | None = (
            _build_telegram(pool, lambda: self.leader.is_leader, notify)
            if notify is not None
            else None
        )
        # Zalo webhook events (button presses, link codes): served by every instance.
        self.zalo: Background | None = _build_zalo(pool, notify) if notify is not None else None
        # Ingest's retained MQTT status (faster than the heartbeat); only with a broker URL.
        self.watch = IngestWatch(mqtt_url) if mqtt_url and settings.watch_ingest else None
        self.scheduler: BackgroundScheduler | None = None
        self.heartbeat = Heartbeat(
            [settings.heartbeat_url, settings.heartbeat_url_2],
            settings.heartbeat_timeout_s,
        )
        self.tick_failed = False
        self.last_result: EvaluationResult | None = None
        # Evaluations in which a silence was skipped, summed over silences (a counter), and the
        # ids already logged (a bad silence is logged once, not on every tick).
        self.silences_skipped_total = 0
        self._silences_reported: set[int] = set()

    # --- evaluation -----------------------------------------------------------------------
    def evaluate_once(
        self, now: datetime | None = None, *, fenced: bool = False
    ) -> EvaluationResult:
        """Evaluate everything at ``now`` in one transaction (``fenced``: only as leader)."""
        now = now or self.clock()
        started = time.perf_counter()
        with self.pool.connection() as conn, conn.transaction():
            # Short set-wise queries: JIT compilation would cost more than it saves.
            conn.execute("SET LOCAL jit = off")
            if fenced and not self.leader.holds(conn):
                raise LostLeadership("the leader lock is held by someone else")
            result = self._evaluate(conn, now)
        result.seconds = time.perf_counter() - started
        self.last_result = result
        self._report_skipped(result.silences_skipped)
        if result.transitions:
            t = result.transitions
            log.info(
                "evaluation: %d pending, %d firing, %d resolved in %.3fs",
                len(t.pending),
                len(t.firing),
                len(t.resolved),
                result.seconds,
            )
        return result

    def _evaluate(self, conn: psycopg.Connection, now: datetime) -> EvaluationResult:
        out = Transitions()
        timings: dict[str, float] = {}
        mark = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal mark
            timings[name] = time.perf_counter() - mark
            mark = time.perf_counter()

        open_alerts = load_open(conn)
        ingest_offline = self.watch is not None and self.watch.all_offline()
        settle = timedelta(seconds=self.settings.broker_settle_s)
        outage = self.watch.broker_outage(settle) if self.watch is not None else None
        dropped = outage[0] if outage else None
        down = self.pipeline.check(conn, now, ingest_offline, dropped)
        apply_rule(conn, self.pipeline, down, open_alerts, now, out)
        apply_rule(conn, CHANNEL_DOWN, CHANNEL_DOWN.check(conn), open_alerts, now, out)
        blind_start, blind_end = blind_window(conn)
        lap("pipeline")
        reach = self.reachability.update(
            conn,
            now,
            blind_start,
            blind_end,
            presume=lambda topo, own: presumed_down(conn, topo, own, self.holds),
        )
        lap("reachability")
        ctx = EvalContext(now, self.settings.offline_factor, blind_start, blind_end, reach.presumed)
        errors = []
        # Cut-off devices whose root cause has no alert yet: their alerts wait (no storm).
        alerting_roots = root_alerts(open_alerts, set(reach.unreachable.values()))
        held = frozenset(d for d, r in reach.unreachable.items() if r not in alerting_roots)
        topo = self.reachability.topology(conn)
        held |= parents_unknown(conn, topo, reach.own, reach.unreachable, now, self.holds)
        if dropped is not None:
            held |= broker_restart_wills(conn, dropped)
        by_rule: dict[str, list[OpenAlert]] = defaultdict(list)
        for alert in open_alerts:
            by_rule[alert.rule].append(alert)
        for rule in self.rules:
            try:
                with conn.transaction():
                    conditions = rule.evaluate(conn, ctx)
                    apply_rule(conn, rule, conditions, by_rule[rule.name], now, out, held)
            except psycopg.Error as exc:
                log.error("rule %s failed: %s", rule.name, exc)
                errors.append(rule.name)
            lap(rule.name)
        closed = set(out.resolved) | set(out.dropped)
        open_alerts = [a for a in open_alerts if a.id not in closed]
        fired = set(out.firing)
        for alert in open_alerts:
            if alert.id in fired:  # fired this tick: may inhibit others now
                alert.state, alert.fired_at = "firing", now
        open_alerts += load_open(conn, out.pending) if out.pending else []
        silencer = Silencer.load(conn, now)
        grace = timedelta(seconds=self.settings.recovery_grace_s)
        mutes = apply_mutes(conn, now, open_alerts, reach, silencer, grace, self.inhibit_rules)
        lap("mutes")
        return EvaluationResult(
            now,
            out,
            reach,
            mutes,
            rule_errors=errors,
            silences_skipped=dict(silencer.skipped),
            timings=timings,
        )

    def _report_skipped(self, skipped: dict[int, str]) -> None:
        self.silences_skipped_total += len(skipped)
        for silence_id, reason in sorted(skipped.items()):
            if silence_id not in self._silences_reported:
                log.error(
                    "silence %s cannot be evaluated and is ignored (it mutes nothing; fix or "
                    "expire it): %s",
                    silence_id,
                    reason,
                )
        self._silences_reported = set(skipped)

    def cleanup(self, now: datetime | None = None) -> int:
        """Delete resolved alerts older than the history period; return how many."""
        before = (now or self.clock()) - timedelta(days=self.settings.history_days)
        with self.pool.connection() as conn:
            return conn.execute(CLEANUP_SQL, {"before": before}).rowcount

    # --- scheduled operation --------------------------------------------------------------
    def tick(self) -> bool:
        """One scheduled evaluation if this process leads; True when it evaluated."""
        if not self.leader.ensure():
            return False
        now = self.clock()
        try:
            self.evaluate_once(now, fenced=True)
        except LostLeadership as exc:
            log.warning("stepping down: %s", exc)
            self.leader.release()
            return False
        except Exception:
            log.exception("evaluation failed")
            self.tick_failed = True
            return False
        self.tick_failed = False
        if self.notifier is not None:
            try:
                self.notifier.tick(now)
            except Exception:
                log.exception("notifier tick failed")
        return True

    def deliver(self) -> None:
        """Send due notifications if this process leads."""
        if self.notifier is None or not self.leader.is_leader:
            return
        try:
            self.notifier.deliver(self.clock())
        except Exception:
            log.exception("notification delivery failed")

    def _beat(self) -> None:
        if not self.leader.is_leader:
            self.heartbeat.leading = False
            return
        if not self.heartbeat.leading:  # took over: /start, as a job's run begins
            self.heartbeat.ping("start")
            self.heartbeat.leading = True
        self.heartbeat.ping("fail" if self.tick_failed else "")

    def _housekeeping(self) -> None:
        if self.leader.is_leader:
            try:
                self.cleanup()
            except psycopg.Error:
                log.exception("alert cleanup failed")

    def start(self) -> None:
        """Run the leader election, evaluation and delivery in background threads."""
        s = self.settings
        scheduler = BackgroundScheduler(timezone="UTC")
        common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        scheduler.add_job(
            self.tick, "interval", seconds=s.evaluation_interval_s, id="evaluate", **common
        )
        scheduler.add_job(
            self.deliver, "interval", seconds=s.deliver_interval_s, id="deliver", **common
        )
        scheduler.add_job(self._housekeeping, "interval", hours=1, id="cleanup", **common)
        if self.heartbeat:
            scheduler.add_job(
                self._beat, "interval", seconds=s.heartbeat_interval_s, id="beat", **common
            )
        if self.watch is not None:
            self.watch.start()
        if self.telegram is not None:
            self.telegram.start()
        if self.zalo is not None:
            self.zalo.start()
        scheduler.start()
        self.scheduler = scheduler
        log.info(
            "alert engine started: %d rules, every %.1fs",
            len(self.rules),
            s.evaluation_interval_s,
        )

    def stop(self) -> None:
        """Stop the jobs, release the leader lock and close the notifier."""
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        if self.telegram is not None:
            self.telegram.stop()
        if self.zalo is not None:
            self.zalo.stop()
        self.leader.release()
        self.heartbeat.close()
        if self.watch is not None:
            self.watch.stop()
        if self.notifier is not None:
            try:
                self.notifier.close()
            except Exception:
                log.exception("notifier close failed")


def _build_notifier(pool: ConnectionPool, settings: NotifySetup) -> Notifications | None:
    try:
        from alerts.notify.service import build_notifier
    except ImportError as exc:
        log.warning("notifications disabled: alerts.notify is not available (%s)", exc)
        return None
    return build_notifier(pool, settings)


def _build_telegram(
    pool: ConnectionPool, is_leader: Callable[[], bool], settings: NotifySetup
) -> Background | None:
    try:
        from alerts.telegram.service import build_receiver
    except ImportError as exc:
        log.warning("telegram buttons disabled: alerts.telegram is not available (%s)", exc)
        return None
    return build_receiver(pool, is_leader, settings.telegram, _zone(settings))


def _build_zalo(pool: ConnectionPool, settings: NotifySetup) -> Background | None:
    from alerts.zalo.service import build_webhook

    return build_webhook(pool, settings.zalo, _zone(settings))


def _zone(settings: NotifySetup) -> tzinfo:
    """The zone of times in messages (IOC_TIMEZONE)."""
    from alerts.notify.templates import local_zone

    return local_zone(settings.notify.timezone)
