"""Durations, the one grammar: ``500ms``, ``90s``, ``5m``, ``1h30m``, ``2d``, ``1w`` or seconds.

A duration is one or more ``<number><unit>`` parts (units ``ms s m h d w``, spaces allowed
between parts), or a plain number of seconds (``90``, ``"90"``, ``2.5``). Negative, infinite and
empty values are refused. Used by rule files, the notify routes file, scenario files and the
simulator's command line; documented in docs/configuration.md.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator

_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_NUMBER = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_HINT = "use e.g. '90s', '5m', '1h30m', '2d' or a number of seconds"


def parse_duration(value: object) -> timedelta:
    """A timedelta from ``"1h30m"``-style text or a number of seconds; ValueError otherwise."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"not a duration: {value!r}; {_HINT}")
    elif isinstance(value, int | float) or _NUMBER.match(value):
        seconds = float(value)
    else:
        seconds, pos, text = 0.0, 0, value.rstrip()
        for match in _PART.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(text) or not text.strip():
            raise ValueError(f"invalid duration {value!r}; {_HINT}")
    if seconds < 0 or not math.isfinite(seconds):
        raise ValueError(f"invalid duration {value!r}: must be finite and not negative")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"invalid duration {value!r}: too long") from None


def format_duration(delta: timedelta) -> str:
    """Short text for a duration: ``1h30m``, ``45s``."""
    total = int(delta.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return "".join(parts) or "0s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
