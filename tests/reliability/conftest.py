"""Fixtures of the fault suite: one PostgreSQL cluster of its own for the module, sizes."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest

from devices.registry import parse_yaml
from devices.store import import_registry
from tests.plugins.pgcluster import PgCluster
from tests.reliability.harness import REGISTRY
from tests.reliability.rig import Sizes


@pytest.fixture(scope="session")
def pg() -> Iterator[PgCluster]:
    """A migrated cluster on a free port with the suite's registry (stopped/crashed by tests)."""
    server = PgCluster().init()
    with psycopg.connect(server.url) as conn:
        import_registry(conn, parse_yaml(REGISTRY, "reliability.yaml"), "reliability.yaml")
    yield server
    server.close()


@pytest.fixture(scope="session")
def sizes() -> Sizes:
    """CI sizes; IOC_RELIABILITY_PG_OUTAGE_S shortens the 60 s database outage."""
    return Sizes(pg_outage_s=float(os.environ.get("IOC_RELIABILITY_PG_OUTAGE_S", "60")))
