"""Topics that miss the contract by a level, a slash or the root's case reach quarantine."""

from __future__ import annotations

import psycopg

from ingest.service import IngestService
from tests.ingest.conftest import COMMUNE, Publisher, count, iso, now_minus
from tests.util import wait_until


def test_malformed_topics_are_quarantined_not_dropped(
    service: IngestService, publisher: Publisher, db: psycopg.Connection
) -> None:
    prefix = publisher.prefix
    reading = {"ts": iso(now_minus(5)), "seq": 1, "metrics": {"fps": 25}}
    malformed = [
        f"{prefix}/{COMMUNE}/ts-cam-01/telemetry/extra",  # an extra level
        f"{prefix}/{COMMUNE}/ts-cam-01/telemetry/",  # a trailing slash
        f"{prefix.upper()}/{COMMUNE}/ts-cam-01/telemetry",  # the root in another case
        f"{prefix.title()}/{COMMUNE}/ts-cam-01/telemetry",
        f"/{prefix}/{COMMUNE}/ts-cam-01/telemetry",  # a leading slash
        f"{prefix}/{COMMUNE}/ts-cam-01",  # a level missing
    ]
    foreign = [f"other-app-{prefix}/x", "ioc/system/something/else"]
    messages: list[tuple[str, object]] = [(t, reading) for t in malformed + foreign]
    messages.append((publisher.topic("ts-cam-01"), reading))
    publisher.send_all(messages)  # type: ignore[arg-type]
    wait_until(
        lambda: count(db, "SELECT count(*) FROM quarantine") >= len(malformed),
        10,
        message="every malformed topic quarantined",
    )
    wait_until(lambda: count(db, "SELECT count(*) FROM telemetry_points") == 1, 10)
    rows = db.execute("SELECT topic, reason FROM quarantine").fetchall()
    assert sorted(t for t, _ in rows) == sorted(malformed), rows
    assert {r for _, r in rows} == {"bad_topic"}
    # other applications' topics are not ingest's business: counted, not quarantined
    wait_until(lambda: service.stats.ignored >= len(foreign), 10, message="foreign ignored")
