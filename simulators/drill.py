"""``ioc drill``: run a scenario against the running stack and compare the outcome.

Two check modes, always printed: ``alerts`` (an alert engine leader is running: incidents,
suppression, resolutions and notifications are checked in its tables) and ``data`` (no engine
yet: each injected fault must be visible in telemetry, events, status changes or quarantine).
Deadlines are simulated time after the drill starts; the drill polls the database with
read-only queries while the fleet runs.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from devices.registry import Registry
from simulators.checks import (
    ALERT_WATERMARK,
    NEW_ALERTS,
    NEW_NOTIFICATIONS,
    NOTIFICATION_WATERMARK,
    OPEN_ALERTS,
    Evidence,
    derived_checks,
    describe,
    engine_running,
    measure,
)
from simulators.clock import SimClock, latest_local, to_datetime
from simulators.fleet import Fleet, Mode
from simulators.scenario import DataCheck, IncidentExpect, Scenario
from simulators.world import World


@dataclass
class Outcome:
    """One expectation and what was observed."""

    label: str
    expected: str
    actual: str = "not observed"
    ok: bool = False
    final: bool = False  # decided for good (no need to keep polling)


@dataclass
class DrillResult:
    """Every outcome of a drill, and the mode it ran in."""

    mode: str
    why: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every expectation was met."""
        return all(o.ok for o in self.outcomes)

    def report(self, name: str) -> str:
        """The readable expected-vs-actual report."""
        lines = [f"drill {name!r}: check mode {self.mode} ({self.why})"]
        for o in self.outcomes:
            lines.append(f"  {'PASS' if o.ok else 'FAIL'} {o.label}")
            if not o.ok:
                lines += [f"       expected: {o.expected}", f"       actual:   {o.actual}"]
        passed = sum(o.ok for o in self.outcomes)
        lines.append(f"{passed}/{len(self.outcomes)} expectations met")
        return "\n".join(lines)


def _match(alert: dict[str, Any], device: str, rule: str | None, severity: str | None) -> bool:
    return (
        alert["device_id"] == device
        and (rule is None or alert["rule"] == rule)
        and (severity is None or alert["severity"] == severity)
    )


class Drill:
    """Runs one scenario: the fleet publishes, ``observe`` polls, ``result`` judges."""

    def __init__(
        self, scenario: Scenario, registry: Registry, database_url: str, mode: str,
        speed: float | None = None,
    ) -> None:  # fmt: skip
        self.scenario = scenario
        self.speed = speed or scenario.speed
        self.database_url = database_url
        self.conn = psycopg.connect(database_url, autocommit=True)
        self.conn.read_only = True
        wanted = scenario.expect.mode if mode == "auto" else mode
        running = engine_running(self.conn)
        if wanted == "auto":
            wanted = "alerts" if running else "data"
        why = "alert engine leader running" if running else "no alert engine running"
        if wanted == "data" and not running:
            why += "; checking that injected faults are visible in the data"
        self.result = DrillResult(wanted, why)
        # The timeline runs ``speed`` times faster from the scenario's fixed time of day while
        # payloads carry wall-clock time, so the alert engine (which judges freshness on the
        # wall clock) sees live devices, and the outcome does not depend on the hour of the run.
        wall0 = time.time()
        self.clock = SimClock(latest_local(scenario.start, wall0), self.speed, wall0)
        self.world = World(registry, scenario.seed, self.clock.start,
                           fault_rate=scenario.fault_rate, time_map=self.clock.wall_of)  # fmt: skip
        for step in scenario.faults:
            self.world.inject(step.fault, step.target, step.seconds,
                              self.clock.start + step.at_s, step.params, "scenario")  # fmt: skip
        self.wall_start = to_datetime(time.time() - 1)
        self._setup_checks()

    def _setup_checks(self) -> None:
        expect = self.scenario.expect
        self.alert_wm = self.note_wm = 0
        self.open_before: list[int] = []
        self.incidents: list[tuple[IncidentExpect, Outcome, bool]] = []
        self.suppressed: list[tuple[Any, Outcome]] = []
        self.data: list[tuple[int, DataCheck, Outcome]] = []
        self.notes: Outcome | None = None
        if self.result.mode == "alerts":
            self.alert_wm = self.conn.execute(ALERT_WATERMARK).fetchone()[0]  # type: ignore[index]
            self.note_wm = self.conn.execute(NOTIFICATION_WATERMARK).fetchone()[0]  # type: ignore[index]
            self.open_before = self.conn.execute(OPEN_ALERTS).fetchone()[0]  # type: ignore[index]
            for inc, resolved in [(e, False) for e in expect.incidents] + [
                (e, True) for e in expect.resolved
            ]:
                verb = "resolves" if resolved else "opens"
                what = " ".join(
                    x for x in (inc.rule or "any rule", inc.device, inc.severity or "") if x
                )
                out = Outcome(f"incident {what} {verb} by +{inc.by_s / 60:g}m",
                              f"an alert {what} {verb} by +{inc.by_s / 60:g}m")  # fmt: skip
                self.incidents.append((inc, out, resolved))
            for sup in expect.suppressed:
                label = f"suppressed {sup.rule or 'any rule'} {sup.device}"
                out = Outcome(label, "no alert firing unsuppressed", "none", ok=True)
                self.suppressed.append((sup, out))
            if expect.notifications is not None:
                n = expect.notifications
                bounds = f"{n.min}..{n.max if n.max is not None else '∞'}"
                self.notes = Outcome(
                    f"notifications {bounds}" + (f" ({n.kind})" if n.kind else ""), bounds
                )
        checks = (
            [(0, c) for c in expect.data] if expect.data is not None
            else derived_checks(self.scenario.faults, self.world) if self.result.mode == "data"
            else []
        )  # fmt: skip
        for during, check in checks:
            self.data.append(
                (during, check, Outcome(f"data {describe(check)}", f"≥ {check.min:g}", "0"))
            )
        watched = {c.device for _, c, _ in self.data if c.device}
        self.evidence = Evidence(self.wall_start, watched)
        self.result.outcomes = [o for _, o, _ in self.incidents] + [o for _, o in self.suppressed]
        self.result.outcomes += [o for _, _, o in self.data] + ([self.notes] if self.notes else [])

    def observe(self) -> bool:
        """Poll the database once; True when every outcome is decided."""
        offset = (self.clock.now() - self.clock.start) / 60
        if self.incidents or self.suppressed:
            params = {"watermark": self.alert_wm, "open_before": self.open_before}
            cur = self.conn.execute(NEW_ALERTS, params)
            cols = [c.name for c in cur.description or ()]
            alerts = [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
            for inc, out, resolved in self.incidents:
                if out.final:
                    continue
                hits = [a for a in alerts if _match(a, inc.device, inc.rule, inc.severity)]
                done = [a for a in hits if a["state"] == "resolved"] if resolved else [
                    a for a in hits if a["state"] in ("firing", "resolved")]  # fmt: skip
                if done:
                    out.ok = offset <= inc.by_s / 60 + 1e-6
                    out.final = True
                    note = "" if done[0]["new"] else " (open since before the drill)"
                    out.actual = f"alert {done[0]['id']} {done[0]['rule']} at +{offset:.1f}m{note}"
                elif offset > inc.by_s / 60:
                    seen = ", ".join(f"{a['rule']}:{a['state']}" for a in hits) or "none"
                    out.actual = f"not by +{inc.by_s / 60:g}m (matching alerts: {seen})"
                    out.final = True
            # Suppression is judged while a fault is active and only for alerts the fault
            # caused (started after it began): a genuine alert raised before the fault (the
            # day's missed broadcast reported at start, say) is not the fault's noise.
            began = [
                to_datetime(self.clock.wall_of(self.clock.start + step.at_s) - 1)
                for step in self.scenario.faults
                if step.at_s / 60 <= offset <= (step.at_s + (step.seconds or float("inf"))) / 60
            ]
            for sup, out in self.suppressed if began else ():
                for a in (a for a in alerts if a["new"] and a["started_at"] >= min(began)):
                    if (_match(a, sup.device, sup.rule, None) and a["state"] == "firing"
                            and a["suppressed_by"] is None and not a["silenced_by"]):  # fmt: skip
                        out.ok = False
                        out.actual = (
                            f"alert {a['id']} {a['rule']} firing unsuppressed at +{offset:.1f}m"
                        )
        for _, check, out in self.data:
            if out.ok:
                continue
            value = measure(self.conn, check, self.evidence)
            out.actual = f"{value:g}"
            out.ok = value >= check.min
        if self.notes is not None:
            n = self.scenario.expect.notifications
            assert n is not None
            row = self.conn.execute(
                NEW_NOTIFICATIONS, {"watermark": self.note_wm, "kind": n.kind}
            ).fetchone()
            count = row[0] if row else 0
            self.notes.actual = str(count)
            self.notes.ok = count >= n.min and (n.max is None or count <= n.max)
        pending = [o for _, o, _ in self.incidents if not o.final] + [
            o for _, _, o in self.data if not o.ok
        ]
        if self.notes is not None and not self.notes.ok:
            pending.append(self.notes)  # grouped notifications may wait for group_interval
        return not pending

    def run(self, fleet: Fleet, poll_s: float, grace_s: float) -> DrillResult:
        """Run the timeline, keep observing up to ``grace_s`` after it, then judge."""
        stop = threading.Event()
        timeline_end = time.time() + self.scenario.duration_s / self.speed
        state = {"next": 0.0}

        def tick(_: float) -> None:
            now = time.time()
            if now < state["next"]:
                return
            state["next"] = now + poll_s
            decided = self.observe()
            # Suppression and notification counts hold only over the whole timeline.
            early = decided and not self.suppressed and self.notes is None
            if early or (now >= timeline_end and (decided or now >= timeline_end + grace_s)):
                stop.set()

        fleet.tap = self.evidence.record
        fleet.run(stop=stop, on_tick=tick, progress_every=3600)
        fleet.drain()
        fleet.close(will=True)
        self.observe()
        self.conn.close()
        return self.result


def run_drill(
    scenario: Scenario, registry: Registry, database_url: str, fleet_factory: Any,
    mode: str = "auto", speed: float | None = None, poll_s: float = 0.5, grace_s: float = 30.0,
) -> DrillResult:  # fmt: skip
    """Build and run a drill; ``fleet_factory(world, clock)`` makes the MQTT fleet."""
    drill = Drill(scenario, registry, database_url, mode, speed)
    return drill.run(fleet_factory(drill.world, drill.clock), poll_s, grace_s)


def scenario_registry(scenario: Scenario, source: Path, demo: Path) -> Path:
    """The registry file a scenario names: ``demo`` or a path relative to the scenario."""
    if scenario.registry == "demo":
        return demo
    path = Path(scenario.registry)
    return path if path.is_absolute() else (source.parent / path)


__all__ = ["Drill", "DrillResult", "Mode", "run_drill", "scenario_registry"]
