"""Migration 0711 brings names stored before the one-line check in line (issue 23, class 6)."""

from __future__ import annotations

import random
from pathlib import Path

import psycopg

import ioc
from ioc.oneline import BIDI_CONTROLS, LINE_BREAKS, one_line, unsafe_chars

MIGRATION = Path(ioc.__file__).parent / "migrations" / "0711_one_line_names.sql"


def test_stored_names_with_breaks_and_controls_become_one_line(db: psycopg.Connection) -> None:
    rng = random.Random()
    unsafe = [c for c in LINE_BREAKS + BIDI_CONTROLS + "\t\x01\x1b\x7f\x9b"]
    names = [
        "".join(rng.choice([*unsafe, "Loa ", "chợ", " Chi tiết: https://x"]) for _ in range(8))
        for _ in range(6)
    ]
    db.execute("INSERT INTO communes (code, name, province) VALUES ('21025', %s, %s)",
               (names[0], names[1]))  # fmt: skip
    db.execute("INSERT INTO sites (id, commune_code, name) VALUES ('s1', '21025', %s)", (names[2],))
    for i, name in enumerate(names[3:]):
        db.execute(
            "INSERT INTO devices (id, type, commune_code, name, interval_s) "
            "VALUES (%s, 'camera', '21025', %s, 60)",
            (f"d{i}", name),
        )
    db.execute(MIGRATION.read_text(encoding="utf-8"))
    stored = db.execute(
        "SELECT name FROM communes UNION ALL SELECT province FROM communes "
        "UNION ALL SELECT name FROM sites UNION ALL (SELECT name FROM devices ORDER BY id)"
    ).fetchall()
    for (value,), original in zip(stored, names, strict=True):
        assert unsafe_chars(value) == []
        assert value == (one_line(original).strip(" ") or value)
