"""Incremental ``multipart/mixed`` (and ``multipart/x-mixed-replace``) reader for event streams.

Hikvision's alertStream and Dahua's eventManager attach keep one response open and write a part
per event or heartbeat. Parts may carry ``Content-Length`` (used when present, so a JPEG that
happens to contain the boundary does not split) or not. Every part and the pending buffer are
bounded: a device that never sends a boundary is an error, not a growing buffer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from collector.protocols.errors import MultipartError

__all__ = ["MultipartError", "MultipartReader", "Part", "boundary_of"]

MAX_PART_BYTES = 256_000

_BOUNDARY = re.compile(r'boundary="?([^";,\s]+)"?', re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Part:
    """One part: lower-cased headers and the body bytes."""

    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        """The part's media type without parameters, lower case ('' when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def boundary_of(content_type: str) -> str:
    """The boundary parameter of a multipart Content-Type header."""
    match = _BOUNDARY.search(content_type)
    if not content_type.lower().startswith("multipart/") or match is None:
        raise MultipartError(f"not a multipart response: {content_type[:80]!r}")
    return match.group(1)


class MultipartReader:
    """Feed bytes as they arrive; get back the complete parts."""

    def __init__(self, boundary: str, *, max_part_bytes: int = MAX_PART_BYTES) -> None:
        # Devices vary: some write "--b", some "b" alone; both are found by the dashed form
        # when present, else by the bare boundary at a line start.
        self._delim = b"--" + boundary.encode()
        self._bare = boundary.encode()
        self._max = max_part_bytes
        self._buf = bytearray()
        self._started = False

    def feed(self, data: bytes) -> list[Part]:
        """Add ``data``; return the parts it completed."""
        self._buf += data
        parts: list[Part] = []
        while True:
            part = self._next()
            if part is None:
                break
            if part.headers or part.body:
                parts.append(part)
        if len(self._buf) > self._max:
            raise MultipartError(f"part exceeds {self._max} bytes without a boundary")
        return parts

    def _find_delim(self, start: int) -> tuple[int, int]:
        idx = self._buf.find(self._delim, start)
        if idx >= 0:
            return idx, len(self._delim)
        idx = self._buf.find(b"\n" + self._bare, start)
        if idx >= 0:
            return idx + 1, len(self._bare)
        return -1, 0

    def _next(self) -> Part | None:
        if not self._started:
            idx, size = self._find_delim(0)
            if idx < 0:
                return None
            del self._buf[: idx + size]
            self._started = True
        head_end = self._buf.find(b"\r\n\r\n")
        sep = 4
        if head_end < 0:
            head_end, sep = self._buf.find(b"\n\n"), 2
        if head_end < 0:
            return None
        headers = _headers(bytes(self._buf[:head_end]))
        body_start = head_end + sep
        length = headers.get("content-length", "")
        if length.isdigit():
            end = body_start + int(length)
            if int(length) > self._max:
                raise MultipartError(f"part of {length} bytes exceeds {self._max}")
            if len(self._buf) < end:
                return None
            body = bytes(self._buf[body_start:end])
            # Complete now: do not wait for the next boundary (it comes with the next event).
            del self._buf[:end]
            self._started = False
            return Part(headers, body)
        else:
            idx, size = self._find_delim(body_start)
            if idx < 0:
                return None
            body = bytes(self._buf[body_start:idx]).rstrip(b"\r\n")
        del self._buf[: idx + size]
        return Part(headers, body)


def _headers(raw: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in raw.decode("latin-1").splitlines():
        line = line.strip()
        if not line or line == "--":
            continue
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip().lower()] = value.strip()
    return out
