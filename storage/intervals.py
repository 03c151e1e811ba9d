"""Half-open time intervals as sorted, disjoint lists of (start, end) epoch seconds."""

from __future__ import annotations

Spans = list[tuple[float, float]]


def merge(spans: Spans) -> Spans:
    """Sort and merge overlapping or touching intervals; drop empty ones."""
    out: Spans = []
    for lo, hi in sorted(s for s in spans if s[1] > s[0]):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def intersect(a: Spans, b: Spans) -> Spans:
    """Points in both ``a`` and ``b`` (inputs merged)."""
    a, b = merge(a), merge(b)
    out: Spans = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Spans, b: Spans) -> Spans:
    """Points in ``a`` but not in ``b``."""
    out: Spans = []
    b = merge(b)
    for lo, hi in merge(a):
        cur = lo
        for blo, bhi in b:
            if bhi <= cur or blo >= hi:
                continue
            if blo > cur:
                out.append((cur, blo))
            cur = max(cur, bhi)
            if cur >= hi:
                break
        if cur < hi:
            out.append((cur, hi))
    return out


def total(spans: Spans) -> float:
    """Total length in seconds."""
    return sum(hi - lo for lo, hi in merge(spans))
