"""A database seeded once for all dashboard tests (the simulator through ingest)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.grafana.seed import Window, default_window, seed_database
from tests.plugins.postgres import clone_database, drop_database, url_for


@pytest.fixture(scope="session")
def dashboard_db(template_db: str) -> Iterator[tuple[str, Window]]:
    """URL of a database holding a few hours of the demo commune, and the seeded window."""
    name = clone_database(template_db)
    window = default_window()
    try:
        seed_database(url_for(name), window)
        yield url_for(name), window
    finally:
        drop_database(name)
