"""A throwaway database for one benchmark run: created on the server, dropped after the run.

with throwaway_database(args.server, "alerts", keep=args.keep) as url:
    prepare_database(url, back_days=2, ahead_days=2, create=False)
    ...
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg
from psycopg import sql


@contextmanager
def throwaway_database(server: str, label: str, *, keep: bool = False) -> Iterator[str]:
    """The URL of a new empty database ``ioc_bench_<label>_<random>`` on ``server`` (a URL of
    a database there that may create databases); dropped on the way out unless ``keep``."""
    name = f"ioc_bench_{label}_{uuid.uuid4().hex[:8]}"
    url = urlsplit(server)._replace(path=f"/{name}").geturl()
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url
    finally:
        if keep:
            print(f"kept database: {url}", file=sys.stderr)
        else:
            with psycopg.connect(server, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
