"""Bounds on what people and devices may send: instants, free-form JSON, names (NFC).

One place so that every input path (API bodies and query parameters, registry files, the
command line, the alert engine reading stored rows) refuses the same things with the same words.

- Instants are confined to [1970-01-01, 9000-01-01) UTC. Python's ``datetime`` ends at year
  9999 and starts at year 1, PostgreSQL's ``timestamptz`` holds more on both sides: a value near
  either end, with an offset or a few days added, overflows in one of them (a 500, a committed
  row nobody can read back). Nothing monitored here happened before 1970 or after 9000.
- Free-form JSON (device metadata, ...) is bounded in nesting depth and encoded size: deep
  documents make parsers and serialisers recurse until they fail.
- Names and search text are stored and compared in Unicode NFC: Vietnamese arrives both
  precomposed (NFC) and decomposed (NFD) and the two must be one name. They are single lines
  without control or bidirectional characters (``ioc.oneline``): names go into plain-text
  messages, where a line break would let a name forge a line of its own.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator

from ioc.oneline import check_one_line

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
# The same bounds as SQL literals (for clamping rows written before the checks existed).
EARLIEST_SQL = "1970-01-01 00:00:00+00"
LATEST_SQL = "9000-01-01 00:00:00+00"


def clamped_sql(column: str) -> str:
    """SQL reading a timestamptz ``column`` clamped to [EARLIEST, LATEST] (NULL stays NULL).

    ``column`` is a trusted identifier from the code, never input.
    """
    return (
        f"CASE WHEN {column} IS NULL THEN NULL "
        f"ELSE least(greatest({column}, '{EARLIEST_SQL}'), '{LATEST_SQL}') END"
    )


JSON_MAX_DEPTH = 10
JSON_MAX_BYTES = 16_384
# Stored JSON deeper than this is not shown (serialisers give up around here); see shown_json.
JSON_SHOW_MAX_DEPTH = 32


def check_instant(value: datetime) -> datetime:
    """``value`` if it is an aware instant within [EARLIEST, LATEST); ValueError otherwise."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a time needs an explicit offset, e.g. 2026-11-22T19:26:40+07:00")
    try:
        inside = EARLIEST <= value < LATEST
    except OverflowError:
        inside = False
    if not inside:
        raise ValueError(
            f"time {value.isoformat()} is out of range: it must be between "
            f"{EARLIEST:%Y-%m-%dT%H:%M:%SZ} and {LATEST:%Y-%m-%dT%H:%M:%SZ}"
        )
    return value


def json_depth(value: Any, limit: int, max_nodes: int | None = None) -> int:
    """Nesting depth of a JSON value (a scalar is 0), counting no further than ``limit + 1``.

    With ``max_nodes``, more elements than that raise ValueError: a YAML document can repeat
    one list through aliases so that it has billions of elements in a few lines.
    """
    deepest = 0
    nodes = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if max_nodes is not None and nodes > max_nodes:
            raise ValueError(f"more than {max_nodes} elements")
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def check_json(
    value: Any, *, max_depth: int = JSON_MAX_DEPTH, max_bytes: int = JSON_MAX_BYTES
) -> Any:
    """``value`` if its nesting and encoded size are within bounds; ValueError otherwise."""
    # Every element takes at least one byte once encoded: the count bounds the work below.
    if json_depth(value, max_depth, max_nodes=max_bytes) > max_depth:
        raise ValueError(f"nested more than {max_depth} levels deep (at most {max_depth})")
    try:
        size = len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode())
    except (ValueError, TypeError, RecursionError) as exc:
        raise ValueError(f"not representable as JSON: {exc}") from None
    if size > max_bytes:
        raise ValueError(f"{size} bytes once encoded as JSON; at most {max_bytes}")
    return value


def shown_json(value: Any) -> Any:
    """A stored JSON object as it may be shown: itself, or a note saying why it is not.

    Rows written before the input bounds (or by hand) must not make a whole listing fail.
    """
    if value is None:
        return value
    if not isinstance(value, dict):
        return {"_invalid": f"stored value is a {type(value).__name__}, not an object"}
    if json_depth(value, JSON_SHOW_MAX_DEPTH) > JSON_SHOW_MAX_DEPTH:
        return {"_invalid": f"stored value is nested more than {JSON_SHOW_MAX_DEPTH} levels deep"}
    return value


def stored_json_loads(data: str | bytes) -> Any:
    """``json.loads`` for stored json/jsonb columns: a note instead of an error when too deep.

    PostgreSQL keeps documents far deeper than Python's parser recurses (~1000 levels): one
    such row, written by hand or before the input bounds, must not fail a whole listing.
    Set on read connections with ``psycopg.types.json.set_json_loads``.
    """
    try:
        return json.loads(data)
    except RecursionError:
        return {"_invalid": f"stored value is nested more than {JSON_SHOW_MAX_DEPTH} levels deep"}


def nfc(value: str) -> str:
    """``value`` in Unicode normal form C (precomposed), the form names are stored in."""
    return unicodedata.normalize("NFC", value)


def _nfc_input(value: Any) -> Any:
    return nfc(value) if isinstance(value, str) else value


# Pydantic field types for every boundary model (API bodies, registry files, CLI input).
Instant = Annotated[AwareDatetime, AfterValidator(check_instant)]
"""An instant from outside: aware, within [EARLIEST, LATEST) (a validation error otherwise)."""
JsonObject = Annotated[dict[str, Any], AfterValidator(check_json)]
"""A free-form JSON object from outside: at most JSON_MAX_DEPTH deep and JSON_MAX_BYTES long."""
JsonChecks = Annotated[dict[str, dict[str, Any]], BeforeValidator(check_json)]
"""A device's collector checks: bounded like JsonObject *before* anything walks them (a YAML
document can repeat one mapping through aliases into billions of nodes)."""
NfcStr = Annotated[str, BeforeValidator(_nfc_input), AfterValidator(check_one_line)]
"""A name or search text: NFC before any length check or comparison, one line, no controls."""
ShownJson = Annotated[dict[str, Any], BeforeValidator(shown_json)]
"""A stored free-form JSON object in a response: replaced by a note when it cannot be shown."""
