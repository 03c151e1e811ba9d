"""One scenario run: a fresh broker, `ioc ingest` as a subprocess, a publisher and the checks."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg

from tests.plugins.broker import Mosquitto
from tests.plugins.pgcluster import PgCluster
from tests.reliability import checker
from tests.reliability.harness import (
    DEVICES,
    AckedPublisher,
    IngestProcess,
    Msg,
    make_stream,
    utc_base,
)
from tests.util import wait_until

T = TypeVar("T")


@dataclass
class Sizes:
    """Scenario sizes and fault durations (CI uses the defaults; bench/faults.py scales them)."""

    messages: int = 3000
    rate: float = 500.0  # steady publish rate, messages/s
    pg_outage_s: float = 60.0
    stall_s: float = 12.0  # broker SIGSTOPped this long: > 2 × the 5 s client keepalive
    backlog_queue: int = 300  # the over-limit scenario's broker max_queued_messages
    poison_every: int = 199  # a poison message every N messages in every stream
    timeout_s: float = 180.0  # any single wait


@dataclass
class Row:
    """One line of the reliability table."""

    fault: str
    sent: int
    acked: int
    stored: int
    lost: int
    duplicated: int
    recovery_s: float | None
    seq_gaps: int
    quarantine_redeliveries: int
    note: str = ""
    lost_examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON-ready values."""
        return asdict(self)


def start_broker(extra_conf: str = "") -> Mosquitto:
    """A test-owned broker whose directory its (unprivileged) process can write to.

    Run as root, mosquitto drops to the `mosquitto` user: in the fixture's root-owned 0700
    directory it could write neither its log nor its persistence file (so a restart would
    lose every queued message).
    """
    broker = Mosquitto(extra_conf=extra_conf)
    if os.geteuid() == 0:
        shutil.chown(broker.dir, "mosquitto", "mosquitto")
    return broker.start()


def broker_log(broker: Mosquitto) -> str:
    """The broker's log so far ('' before it wrote one)."""
    path = broker.dir / "mosquitto.log"
    return path.read_text(errors="replace") if path.exists() else ""


def subscriptions(r: Run) -> int:
    """How often ingest's subscription was (re)made on this broker (its `log_type subscribe`)."""
    return broker_log(r.broker).count(f"ioc-ingest-{r.ingest.instance} 1 $share/")


class Poller:
    """An autocommit connection for polling that survives the database going away."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: psycopg.Connection | None = None

    def get(self, fn: Callable[[psycopg.Connection], T], default: T) -> T:
        """``fn(conn)``, or ``default`` while the database is unreachable."""
        try:
            if self.conn is None or self.conn.closed or self.conn.broken:
                self.conn = psycopg.connect(self.url, autocommit=True, connect_timeout=2)
            return fn(self.conn)
        except psycopg.OperationalError:
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return default

    def close(self) -> None:
        """Close the connection."""
        if self.conn is not None:
            self.conn.close()


class Run:
    """Broker + ingest + publisher for one scenario; ``row()`` checks and tabulates."""

    def __init__(self, pg: PgCluster, sizes: Sizes, workdir: Path, broker_conf: str = "") -> None:
        self.pg = pg
        self.sizes = sizes
        self.prefix = f"rel{uuid.uuid4().hex[:6]}/ioc/v1"
        self.base = utc_base()
        self.poll = Poller(pg.url)
        self.poll.get(checker.reset, None)
        self.broker = start_broker(broker_conf + "\nlog_type subscribe")
        self.ingest = IngestProcess(
            pg.url, self.broker.url, self.prefix, str(workdir / "ingest.log")
        )
        self.ingest.start()
        self.pub = AckedPublisher(self.broker.url)
        self.sender: Any = None
        self.fault_end: float | None = None
        self.recovery_s: float | None = None

    def stream(self, n: int, first: int = 0, seqs: dict[str, int] | None = None) -> list[Msg]:
        """``n`` messages of this run's stream."""
        poison = self.sizes.poison_every
        return make_stream(self.prefix, n, self.base, first=first, poison_every=poison, seqs=seqs)

    def send(self, segments: Sequence[tuple[Sequence[Msg], float]]) -> None:
        """Start publishing the segments in the background."""
        self.sender = self.pub.send_paced(segments)

    def wait_flowing(self, acked: int) -> None:
        """Wait until ``acked`` messages are acknowledged and rows are being committed."""
        timeout = self.sizes.timeout_s
        wait_until(lambda: len(self.pub.acked) >= acked, timeout, message=f"{acked} acked")
        lo = self.base
        hi = max(m.ts for m in self.pub.snapshot())
        wait_until(
            lambda: self.poll.get(lambda db: checker.stored_telemetry(db, lo, hi), 0) > 0,
            timeout,
            message="rows committed",
        )

    def recovered(self, fault_end: float) -> float:
        """Wait until everything acked so far is stored; seconds since ``fault_end`` (monotonic).

        Called right at the end of the fault, so "so far" is "by the end of the fault".
        """
        self.fault_end = fault_end
        acked = self.pub.snapshot()
        hi = max((m.ts for m in acked if m.kind == "telemetry"), default=self.base)
        expected = checker.telemetry_between(acked, self.base, hi)
        wait_until(
            lambda: (
                self.poll.get(lambda db: checker.stored_telemetry(db, self.base, hi), 0) >= expected
            ),
            self.sizes.timeout_s,
            0.1,
            message=f"{expected} messages acked before the fault end stored",
        )
        self.recovery_s = time.monotonic() - self.fault_end
        return self.recovery_s

    def recovered_tail(self, fault_end: float, tail: list[Msg]) -> float:
        """Wait until the acked telemetry of ``tail`` (sent after the fault) is stored."""
        if self.sender is not None:
            self.sender.join(self.sizes.timeout_s)
        self.pub.wait_settled(self.sizes.timeout_s)
        lo, hi = min(m.ts for m in tail), max(m.ts for m in tail)
        expected = checker.telemetry_between(self.pub.snapshot(), lo, hi)
        wait_until(
            lambda: self.poll.get(lambda db: checker.stored_telemetry(db, lo, hi), 0) >= expected,
            self.sizes.timeout_s,
            0.1,
            message="messages sent after the fault stored",
        )
        self.recovery_s = time.monotonic() - fault_end
        return self.recovery_s

    def finish(self, fault: str, note: str = "", lossy: bool = False) -> Row:
        """Wait for the publisher and for ingest to drain; count everything."""
        if self.sender is not None:
            self.sender.join(self.sizes.timeout_s)
        self.pub.wait_settled(self.sizes.timeout_s)
        sent, acked = list(self.pub.sent), self.pub.snapshot()
        if not lossy:
            wait_until(
                lambda: self.poll.get(lambda db: checker.tally(db, sent, acked).lost, -1) == 0,
                self.sizes.timeout_s,
                0.5,
                message="every acknowledged message stored",
            )
        result = self.poll.get(lambda db: checker.tally(db, sent, acked), None)
        gaps = self.poll.get(lambda db: checker.seq_gaps(db, DEVICES), -1)
        assert result is not None
        return Row(
            fault=fault,
            sent=result.sent,
            acked=result.acked,
            stored=result.stored,
            lost=result.lost,
            duplicated=result.duplicated,
            recovery_s=None if self.recovery_s is None else round(self.recovery_s, 2),
            seq_gaps=gaps,
            quarantine_redeliveries=result.quarantine_redeliveries,
            note=note,
            lost_examples=result.lost_examples,
        )

    def close(self) -> None:
        """Stop everything this run started."""
        with contextlib.suppress(Exception):
            self.pub.close()
        self.ingest.close()
        self.broker.close()
        self.poll.close()


@contextlib.contextmanager
def run(pg: PgCluster, sizes: Sizes, workdir: Path, broker_conf: str = "") -> Iterator[Run]:
    """A ``Run`` that is closed afterwards."""
    r = Run(pg, sizes, workdir, broker_conf)
    try:
        yield r
    finally:
        r.close()
