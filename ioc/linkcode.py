"""One-time link codes: the console issues them, the chat bots consume them (one digest)."""

from __future__ import annotations

import hashlib


def code_digest(code: str) -> bytes:
    """What is stored of a link code: SHA-256 of the trimmed, upper-cased code."""
    return hashlib.sha256(code.strip().upper().encode("utf-8")).digest()
