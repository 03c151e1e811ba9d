"""The database fails over under load: `ioc ingest`, `ioc alerts` and `ioc api` keep running.

One cluster (`ioc db local-ha`, 2 nodes) for the module. The kill test: 3,000 QoS 1 readings
stream in and an alert storm is being notified while the leader's Patroni and postmaster get
kill -9. The switchover test: `patronictl switchover` under the same stream. Counts and
pauses are printed (pytest -s shows them).
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.alerts.notify.helpers import HttpReceiver
from tests.ha.conftest import Ha, report, wait_healthy
from tests.ha.services import STORM_DEVICES, ApiProbe, Progress, start_alerts, storm_registry
from tests.plugins.broker import Mosquitto
from tests.reliability import checker
from tests.reliability.harness import (
    COMMUNE,
    REGISTRY,
    AckedPublisher,
    IngestProcess,
    Msg,
    make_stream,
    utc_base,
)
from tests.reliability.rig import start_broker
from tests.util import wait_until

pytestmark = pytest.mark.timeout(400)

RATE = 150.0  # readings per second: 3,000 take 20 s, spanning the ~25 s failover


@pytest.fixture(scope="module")
def registered(ha: Ha, tmp_path_factory: pytest.TempPathFactory) -> Ha:
    """The stream's cameras and the storm's NVRs in the registry."""
    path = tmp_path_factory.mktemp("ha-reg") / "registry.yaml"
    path.write_text(REGISTRY + "\n" + storm_registry(COMMUNE) + "\n")
    out = ha.ioc("devices", "import", str(path))
    assert out.returncode == 0, out.stderr
    return ha


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    b = start_broker()
    yield b
    b.close()


def stored_ok(url: str, sent: list[Msg], acked: list[Msg]) -> checker.Tally:
    """The tally of the stream against the database (through the multi-host URL)."""
    with psycopg.connect(url, connect_timeout=5) as db:
        return checker.tally(db, sent, acked)


def all_stored(url: str, sent: list[Msg], acked: list[Msg]) -> bool:
    """Every acknowledged message is in the database (False while it cannot be read)."""
    try:
        return stored_ok(url, sent, acked).lost == 0
    except psycopg.OperationalError:
        return False


def finish_stream(
    ha: Ha, publisher: AckedPublisher, sender: threading.Thread, stream: list[Msg]
) -> tuple[checker.Tally, float]:
    """Wait for the broker's answers and for every acknowledged message in the database;
    returns the tally and when that was."""
    sender.join(60)
    publisher.wait_settled(60)
    acked = publisher.snapshot()
    wait_until(lambda: all_stored(ha.url, stream, acked), 90, 0.5, message="acked stored")
    return stored_ok(ha.url, stream, acked), time.monotonic()


def outbox_settled(url: str) -> int | None:
    """The number of sent notifications once none is pending or sending, else None."""
    with contextlib.suppress(psycopg.Error), psycopg.connect(url, connect_timeout=2) as db:
        states = Counter(s for (s,) in db.execute("SELECT state FROM notifications"))
        if states and set(states) == {"sent"}:
            return states["sent"]
    return None


def publish_cpu(client: mqtt.Client, prefix: str, value: float, seq: int) -> None:
    """One reading of cpu_pct=value from every storm NVR (QoS 1, waits for PUBACK)."""
    now = datetime.now(UTC).isoformat()
    infos = [
        client.publish(
            f"{prefix}/{COMMUNE}/{d}/telemetry",
            f'{{"ts": "{now}", "seq": {seq}, "metrics": {{"cpu_pct": {value}}}}}',
            qos=1,
        )
        for d in STORM_DEVICES
    ]
    for info in infos:
        info.wait_for_publish(10)


def alert_states(url: str) -> Counter[str]:
    """States of the storm rule's alerts (empty while the database is unreachable)."""
    with contextlib.suppress(psycopg.Error), psycopg.connect(url, connect_timeout=2) as db:
        rows = db.execute("SELECT state FROM alerts WHERE rule = 'storm_cpu'").fetchall()
        return Counter(r[0] for r in rows)
    return Counter()


def test_kill_leader_under_load_loses_nothing(
    registered: Ha, broker: Mosquitto, tmp_path: Path
) -> None:
    ha = registered
    prefix = f"ha{uuid.uuid4().hex[:6]}/ioc/v1"
    receiver = HttpReceiver().start()
    ingest = IngestProcess(ha.url, broker.url, prefix, str(ha.dir / "ingest.log"))
    alerts = start_alerts(ha, broker.url, tmp_path, receiver.url + "/hook")
    api = ApiProbe(ha, broker.url)
    devices = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"ha-storm-{uuid.uuid4().hex[:6]}")
    devices.connect("127.0.0.1", broker.port)
    devices.loop_start()
    publisher = AckedPublisher(broker.url)
    progress = Progress(ha.url)
    try:
        ingest.start()
        # The storm: every NVR over its threshold, firing and notified before the fault ...
        publish_cpu(devices, prefix, 99, 0)
        wait_until(lambda: alert_states(ha.url)["firing"] == len(STORM_DEVICES), 30, 0.2)
        wait_until(lambda: len(receiver.requests) >= len(STORM_DEVICES), 30, 0.2)
        stream = make_stream(prefix, 3000, utc_base(), event_every=50)
        started = time.monotonic()
        sender = publisher.send_paced([(stream, RATE)])
        wait_until(lambda: len(publisher.snapshot()) >= 600, 30, 0.05, message="stream flowing")
        # ... and every one resolving while the primary dies: resolutions are in flight.
        publish_cpu(devices, prefix, 10, 1)
        killed_at = time.monotonic()
        old = ha.kill_leader()
        new = wait_until(lambda: (n := ha.leader()) not in (None, old) and n, 90, 0.2)
        promoted_at = time.monotonic()
        tally, done_at = finish_stream(ha, publisher, sender, stream)
        wait_until(lambda: alert_states(ha.url)["resolved"] == len(STORM_DEVICES), 60, 0.2)
        # Every outbox row sent and nothing left to send: a duplicate would have arrived.
        sent = wait_until(lambda: outbox_settled(ha.url), 60, 0.2, message="outbox settled")
        bodies = [r.json() for r in receiver.requests]
        back = [t for t, status, _ in api.answers if t > promoted_at and status == 200]
        statuses = Counter(status for t, status, _ in api.answers if t >= killed_at)
        pause = progress.longest_pause(started, done_at)
    finally:
        progress.close()
        publisher.close()
        devices.loop_stop()
        api.close()
        alerts.close()
        ingest.close()
        receiver.stop()
    per_device = Counter((b["alerts"][0]["device_id"], b["status"]) for b in bodies)
    ids = Counter(b["dedup_key"] for b in bodies)
    report(
        f"kill -9 {old} (Patroni + postmaster): {new} promoted after "
        f"{promoted_at - killed_at:.1f} s; ingest pause {pause:.1f} s; "
        f"readings sent {tally.sent}, acked {tally.acked}, stored {tally.stored}, "
        f"lost {tally.lost}, duplicated {tally.duplicated}; notifications {len(bodies)} "
        f"(duplicates {sum(n - 1 for n in ids.values())}); API answers since the kill "
        f"{dict(statuses)}, first 200 {back[0] - promoted_at:.1f} s after the promotion"
    )
    assert tally.acked == 3000 and tally.lost == 0, tally.lost_examples
    assert tally.duplicated == 0
    assert max(ids.values()) == 1, "a notification was delivered twice"
    assert len(bodies) == sent, "the receiver got more requests than notifications were sent"
    for device in STORM_DEVICES:
        assert per_device[(device, "firing")] == 1, (device, per_device)
        assert per_device[(device, "resolved")] == 1, (device, per_device)
    assert 500 not in statuses, "the API answered 500 during the failover"
    assert all(ra for _, status, ra in api.answers if status == 503), "503 without Retry-After"
    assert back and back[0] - promoted_at < 30
    wait_healthy(ha)  # the old leader rejoined as a replica (pg_rewind), for the next test


def test_switchover_pauses_ingest_under_5_s(registered: Ha, broker: Mosquitto) -> None:
    ha = registered
    wait_healthy(ha)
    prefix = f"hs{uuid.uuid4().hex[:6]}/ioc/v1"
    ingest = IngestProcess(ha.url, broker.url, prefix, str(ha.dir / "ingest-switch.log"))
    publisher = AckedPublisher(broker.url)
    progress = Progress(ha.url)
    try:
        ingest.start()
        stream = make_stream(prefix, 1500, utc_base(1.0), event_every=50)
        started = time.monotonic()
        sender = publisher.send_paced([(stream, RATE)])
        wait_until(lambda: len(publisher.snapshot()) >= 300, 30, 0.05, message="stream flowing")
        switched_at = time.monotonic()
        old, new = ha.switchover()
        wait_until(lambda: ha.leader() == new, 60, 0.2, message=f"{new} leads")
        led_at = time.monotonic()
        tally, done_at = finish_stream(ha, publisher, sender, stream)
        pause = progress.longest_pause(started, done_at)
    finally:
        progress.close()
        publisher.close()
        ingest.close()
    report(
        f"switchover {old} -> {new}: leader changed within "
        f"{led_at - switched_at:.1f} s of the command; ingest pause {pause:.1f} s; "
        f"readings acked {tally.acked}, lost {tally.lost}, duplicated {tally.duplicated}"
    )
    assert tally.lost == 0 and tally.duplicated == 0
    assert pause < 5.0
    wait_healthy(ha)


def test_maintain_refuses_a_replica(registered: Ha) -> None:
    ha = registered
    wait_healthy(ha)
    replica = next(m["name"] for m in ha.members() if m.get("state") == "streaming")
    out = ha.ioc("maintain", "--once", IOC_DATABASE_URL=ha.node_url(replica))
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "read-only replica" in lines[0], out.stderr
