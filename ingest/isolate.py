"""Isolating a poison message: a batch the database refuses is split until the culprit is alone.

The batch is halved inside savepoints: a half that writes is kept, a half that fails is halved
again, so one bad message among n costs about 2·log2(n) small writes instead of n. Culprits are
quarantined as ``write_failed`` with the database's message; everything else is written in
receive order and acknowledged with the batch.
"""

from __future__ import annotations

import logging

import psycopg

from ingest.decode import Decoded
from ingest.reasons import Reason, Rejected
from ingest.writer import Item, WriteResult, write_items

log = logging.getLogger(__name__)


def write_isolating(
    conn: psycopg.Connection,
    items: list[Item],
    transient: tuple[type[BaseException], ...],
    **options: float,
) -> WriteResult:
    """Write ``items`` in the current transaction, quarantining the ones that cannot be written
    (``options`` are ``write_items``'s keyword options)."""
    total = WriteResult()
    failed: list[Item] = []
    pending = [items]  # a stack of parts still to write, the earliest on top
    while pending:
        part = pending.pop()
        try:
            with conn.transaction():
                one = write_items(conn, part, truncate=True, **options)
        except transient:
            raise
        except Exception as exc:
            if len(part) > 1:
                half = len(part) // 2
                pending.append(part[half:])
                pending.append(part[:half])
                continue
            failed.append(_culprit(part[0], exc))
            continue
        total.rows += one.rows
        total.duplicates += one.duplicates
        total.quarantined.update(one.quarantined)
    for item in failed:
        _quarantine(conn, item, total, transient)
    return total


def _culprit(item: Item, exc: Exception) -> Item:
    device = item.result.device if isinstance(item.result, Decoded) else None
    device_id = device.id if device else getattr(item.result, "device_id", None)
    log.error("message on %.200s failed to write: %s", item.topic, exc)
    reason = Rejected(Reason.WRITE_FAILED, str(exc).strip()[:500], device_id)
    return Item(item.topic, item.payload, item.received_at, reason)


def _quarantine(
    conn: psycopg.Connection,
    item: Item,
    total: WriteResult,
    transient: tuple[type[BaseException], ...],
) -> None:
    """Quarantine one culprit; if even that is refused, keep its topic and reason only."""
    try:
        with conn.transaction():
            total.quarantined.update(write_items(conn, [item], truncate=True).quarantined)
        return
    except transient:
        raise
    except Exception:
        log.exception(
            "quarantining the message on %.200s failed; storing it without payload", item.topic
        )
    assert isinstance(item.result, Rejected)
    bare = Item(ascii(item.topic)[:1024], b"", item.received_at, item.result)
    with conn.transaction():
        total.quarantined.update(write_items(conn, [bare], truncate=True).quarantined)
