"""The store-and-forward outbox: every reading is written here (SQLite, WAL) before it is
published, and deleted only after the broker's PUBACK.

A row holds one reading or event of one device with its ``seq`` (assigned here, in the same
transaction, so numbering survives restarts and SIGKILL). The file is bounded by age and by
size; when full, the oldest telemetry goes first, then the oldest of the rest, and every drop
is counted (``dropped`` in the collector's heartbeat, a ``buffer_dropped`` event).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    commune TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('telemetry', 'event')),
    body TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS seqs (device_id TEXT PRIMARY KEY, next INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
NEXT_SEQ = """
INSERT INTO seqs (device_id, next) VALUES (?, 1)
ON CONFLICT (device_id) DO UPDATE SET next = next + 1
RETURNING next - 1
"""
INSERT = "INSERT INTO outbox (device_id, commune, channel, body, created) VALUES (?, ?, ?, ?, ?)"
AFTER = """
SELECT id, device_id, commune, channel, body FROM outbox
WHERE id > ? AND id <= ? ORDER BY id LIMIT ?
"""
DELETE = "DELETE FROM outbox WHERE id = ?"
TOTALS = "SELECT count(*), coalesce(sum(length(body)), 0), coalesce(max(id), 0) FROM outbox"
OLDEST = """
SELECT id, length(body) FROM outbox WHERE channel = ? ORDER BY id LIMIT ?
"""
EXPIRED = "DELETE FROM outbox WHERE created < ? RETURNING length(body)"
BUMP = """
INSERT INTO counters (name, value) VALUES (?, ?)
ON CONFLICT (name) DO UPDATE SET value = value + excluded.value
"""
ROW_OVERHEAD = 64  # bytes a row costs beyond its body, for the size bound


@dataclass(frozen=True, slots=True)
class Row:
    """One buffered message."""

    id: int
    device_id: str
    commune: str
    channel: str
    body: str


class Outbox:
    """SQLite outbox; used from one thread (the collector's event loop)."""

    def __init__(self, path: Path, max_age_s: float = 7 * 86400, max_bytes: int = 2**30) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a committed reading survives power loss
        self.db.executescript(SCHEMA)
        self.max_age_s = max_age_s
        self.max_bytes = max_bytes
        count, body_bytes, _ = self.db.execute(TOTALS).fetchone()
        self.depth = int(count)
        self.bytes = int(body_bytes) + ROW_OVERHEAD * self.depth
        self.dropped_pending = 0  # drops not yet reported as an event

    def add(self, device_id: str, commune: str, channel: str, fields: dict[str, Any]) -> int:
        """Store one reading (``metrics``) or event (``type``...) with the device's next seq."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            (seq,) = self.db.execute(NEXT_SEQ, (device_id,)).fetchone()
            body = json.dumps({**fields, "seq": seq}, ensure_ascii=False, separators=(",", ":"))
            cur = self.db.execute(INSERT, (device_id, commune, channel, body, time.time()))
        self.depth += 1
        self.bytes += len(body.encode()) + ROW_OVERHEAD
        if self.bytes > self.max_bytes:
            self._shrink()
        return int(cur.lastrowid or 0)

    def after(self, after_id: int, upto_id: int, limit: int) -> list[Row]:
        """Rows with ``after_id < id <= upto_id``, oldest first."""
        return [Row(*r) for r in self.db.execute(AFTER, (after_id, upto_id, limit))]

    def max_id(self) -> int:
        """The newest row id (0 when empty)."""
        return int(self.db.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0])

    def remove(self, ids: list[int]) -> None:
        """Forget rows the broker acknowledged."""
        if not ids:
            return
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            gone = 0
            for row_id in ids:
                cur = self.db.execute(DELETE + " RETURNING length(body)", (row_id,))
                found = cur.fetchone()
                if found:
                    gone += 1
                    self.bytes -= int(found[0]) + ROW_OVERHEAD
        self.depth -= gone

    def expire(self) -> int:
        """Drop rows older than the age bound; returns how many."""
        with self.db:
            lengths = self.db.execute(EXPIRED, (time.time() - self.max_age_s,)).fetchall()
            if lengths:
                self.db.execute(BUMP, ("dropped", len(lengths)))
        self._forget(lengths)
        return len(lengths)

    def _shrink(self) -> None:
        # Oldest telemetry first; events only once no telemetry is left.
        target = self.max_bytes * 0.95
        for channel in ("telemetry", "event"):
            while self.bytes > target:
                rows = self.db.execute(OLDEST, (channel, 500)).fetchall()
                if not rows:
                    break
                with self.db:
                    self.db.executemany(DELETE, [(r[0],) for r in rows])
                    self.db.execute(BUMP, ("dropped", len(rows)))
                self._forget([(r[1],) for r in rows])

    def _forget(self, lengths: list[tuple[int]]) -> None:
        self.depth -= len(lengths)
        self.bytes -= sum(int(n) + ROW_OVERHEAD for (n,) in lengths)
        self.dropped_pending += len(lengths)

    def counter(self, name: str) -> int:
        """A persistent counter's value (``dropped``)."""
        row = self.db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def get(self, key: str) -> str | None:
        """A small persistent value (e.g. the cached inventory's etag)."""
        row = self.db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def put(self, key: str, value: str) -> None:
        """Store a small persistent value."""
        with self.db:
            self.db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def close(self) -> None:
        """Close the database (the WAL is checkpointed)."""
        self.db.close()
