"""``ioc alerts --once``: a dry run by default; ``--write`` evaluates once as the leader.

A one-off evaluation against a live database (a new rules file, say) must not write thousands
of alerts that the running leader then notifies: by default it evaluates inside a transaction
that is rolled back and says what would change. Writing takes the leader lock first, so it is
refused while an ``ioc alerts`` leads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from alerts.engine import AlertEngine, EvaluationResult
from ioc.errors import IocError

SHOWN = 20
DESCRIBE_SQL = """
SELECT rule, severity, coalesce(device_id, '-'), coalesce(commune_code, '-')
FROM alerts WHERE id = ANY(%(ids)s) ORDER BY id LIMIT %(limit)s
"""


class LeaderRunning(IocError):
    """Another ``ioc alerts`` holds the leader lock: writing now would race it."""


@dataclass
class Preview:
    """What one evaluation would change (nothing of it was written)."""

    result: EvaluationResult
    lines: list[str] = field(default_factory=list)


def dry_run(engine: AlertEngine, now: datetime | None = None, shown: int = SHOWN) -> Preview:
    """Evaluate at ``now`` in a transaction that is rolled back; describe the transitions."""
    at = now or engine.clock()
    with engine.pool.connection() as conn, conn.transaction() as tx:
        conn.execute("SET LOCAL jit = off")
        preview = Preview(engine._evaluate(conn, at))
        t = preview.result.transitions
        for kind, ids in (
            ("firing", t.firing),
            ("pending", t.pending),
            ("resolved", t.resolved),
        ):
            rows = conn.execute(DESCRIBE_SQL, {"ids": ids, "limit": shown}).fetchall()
            preview.lines += [f"would be {kind}: {r} [{s}] device {d} commune {c}"
                              for r, s, d, c in rows]  # fmt: skip
            if len(ids) > shown:
                preview.lines.append(f"... and {len(ids) - shown} more {kind}")
        raise psycopg.Rollback(tx)
    return preview


def write_once(engine: AlertEngine, now: datetime | None = None) -> EvaluationResult:
    """Evaluate and write once, holding the leader lock; LeaderRunning when another leads."""
    if not engine.leader.ensure():
        raise LeaderRunning(
            f"another ioc alerts is active (leader lock {engine.settings.leader_lock_key} "
            "is held): it already evaluates; stop it first, or run --once without --write"
        )
    try:
        return engine.evaluate_once(now, fenced=True)
    finally:
        engine.leader.release()
