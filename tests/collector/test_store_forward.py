"""Store-and-forward end to end: collector → private mosquitto → real ingest → PostgreSQL.

The broker goes away while devices are polled; every reading comes through once it is back
(0 lost, 0 duplicated rows), and a SIGKILL of the collector in the middle of the replay loses
nothing either.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ingest.service import IngestService
from tests.collector.harness import CollectorProcess, import_inventory, inventory_text
from tests.ingest.conftest import test_settings
from tests.plugins.broker import Mosquitto
from tests.util import wait_until

DEVICES = 12


@pytest.fixture
def rig(
    db_url: str, own_broker: Mosquitto, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, CollectorProcess]]:
    rate = getattr(request, "param", 4)  # replay batches per second
    text = inventory_text(DEVICES)
    import_inventory(db_url, text)
    settings, ingest = test_settings(
        db_url, own_broker.url, topic_prefix="ioc/v1", seq_gap_hold_s=600
    )
    service = IngestService(settings, ingest).start()
    wait_until(service.consumer.connected.is_set, 10, message="ingest subscribed")
    proc = CollectorProcess(tmp_path, text, own_broker.url, ioc_collector_replay_rate=rate)
    try:
        yield db_url, proc
    finally:
        proc.stop()
        service.stop()


def stored(db_url: str) -> dict[str, tuple[int, int, int]]:
    """Per device: readings stored, duplicated telemetry rows, events stored."""
    with psycopg.connect(db_url) as conn:
        readings = dict(
            conn.execute(
                "SELECT device_id, count(DISTINCT time) FROM telemetry WHERE metric = 'online' "
                "GROUP BY device_id"
            ).fetchall()
        )
        dups = dict(
            conn.execute(
                "SELECT device_id, count(*) - count(DISTINCT (time, metric)) FROM telemetry "
                "GROUP BY device_id"
            ).fetchall()
        )
        events = dict(
            conn.execute(
                "SELECT device_id, count(*) FROM device_events GROUP BY device_id"
            ).fetchall()
        )
    return {
        d: (readings.get(d, 0), dups.get(d, 0), events.get(d, 0))
        for d in set(readings) | set(events)
    }


def caught_up(db_url: str, proc: CollectorProcess, since: float) -> bool:
    """Nothing buffered from before ``since`` is left, and everything numbered is stored or
    still buffered (read in that order, so rows moving meanwhile cannot hide a loss)."""
    if proc.outbox(f"SELECT count(*) FROM outbox WHERE created < {since}") > 0:
        return False
    produced = proc.produced()
    buffered = dict(proc.rows("SELECT device_id, count(*) FROM outbox GROUP BY device_id"))
    got = stored(db_url)
    return all(
        sum(got.get(d, (0, 0, 0))[::2]) + buffered.get(d, 0) >= n for d, n in produced.items()
    )


def wait_caught_up(db_url: str, proc: CollectorProcess, since: float, what: str) -> None:
    """Wait for the replay; on timeout say what was still missing."""
    try:
        wait_until(lambda: caught_up(db_url, proc, since), 60, 0.2, what)
    except AssertionError as exc:
        produced, got = proc.produced(), stored(db_url)
        old = proc.outbox(f"SELECT count(*) FROM outbox WHERE created < {since}")
        missing = {d: (n, got.get(d)) for d, n in produced.items() if got.get(d, (0,))[0] < n}
        raise AssertionError(
            f"{exc}; rows older than the return: {old}; "
            f"numbered vs stored: {missing}; log: {proc.log_text()[-1500:]}"
        ) from None


def stored_times(db_url: str) -> dict[str, set[int]]:
    """Per device: epoch ms of every stored reading and event."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT device_id, (extract(epoch FROM time) * 1000)::bigint FROM telemetry "
            "WHERE metric = 'online' UNION ALL "
            "SELECT device_id, (extract(epoch FROM time) * 1000)::bigint FROM device_events"
        ).fetchall()
    out: dict[str, set[int]] = {}
    for device, ms in rows:
        out.setdefault(device, set()).add(int(ms))
    return out


def assert_nothing_lost(db_url: str, proc: CollectorProcess) -> None:
    """With the collector stopped, every numbered reading is stored or still buffered (a row
    can be both: stored, but its PUBACK came after the collector stopped; it goes again at the
    next start, harmlessly); no duplicated rows."""
    assert not proc.alive()
    produced = proc.produced()
    buffered: dict[str, set[int]] = {}
    for device, body in proc.rows("SELECT device_id, body FROM outbox"):
        buffered.setdefault(device, set()).add(int(json.loads(body)["ts"]))

    def missing() -> dict[str, int]:
        got = stored_times(db_url)
        return {
            d: n - len(got.get(d, set()) | buffered.get(d, set()))
            for d, n in produced.items()
            if len(got.get(d, set()) | buffered.get(d, set())) != n
        }

    wait_until(lambda: not missing(), 30, 0.2, "every numbered reading stored or buffered")
    assert len(produced) == DEVICES + 1  # every camera and the collector itself
    assert all(dups == 0 for _, dups, _ in stored(db_url).values())
    with psycopg.connect(db_url) as conn:
        quarantined = conn.execute("SELECT count(*) FROM quarantine").fetchone()
    assert quarantined == (0,)


def test_broker_outage_loses_and_duplicates_nothing(
    rig: tuple[str, CollectorProcess], own_broker: Mosquitto
) -> None:
    db_url, proc = rig
    proc.start()
    wait_until(lambda: len(stored(db_url)) == DEVICES + 1, 20, 0.2, "every device reporting")
    own_broker.stop()  # the commune's uplink goes down
    wait_until(lambda: proc.depth() >= 3 * DEVICES, 20, 0.2, "readings buffered on disk")
    assert proc.alive()
    own_broker.start()
    back = time.time()
    wait_caught_up(db_url, proc, back, "backlog replayed and stored")
    proc.stop()
    assert_nothing_lost(db_url, proc)
    assert "broker connection lost" in proc.log_text()


@pytest.mark.parametrize("rig", [1], indirect=True)  # 13 batches at 1/s: the kill lands mid-way
def test_sigkill_mid_replay_loses_nothing(
    rig: tuple[str, CollectorProcess], own_broker: Mosquitto
) -> None:
    db_url, proc = rig
    own_broker.stop()
    proc.start()  # starts without the broker: everything goes to the outbox
    wait_until(lambda: proc.depth() >= 6 * DEVICES, 30, 0.2, "a backlog on disk")
    own_broker.start()
    before = proc.depth()
    # Replay is capped (1 batch/s here): kill once part, not all, of the backlog went out.
    wait_until(
        lambda: proc.outbox("SELECT count(*) FROM outbox") < before - 5,
        20,
        0.05,
        "replay under way",
    )
    proc.stop(kill=True)
    assert proc.depth() > 0, "the kill should land mid-replay"
    proc.start()
    back = time.time()
    wait_caught_up(db_url, proc, back, "backlog replayed after the restart")
    proc.stop()
    assert_nothing_lost(db_url, proc)
