"""A minimal RTSP/1.0 client over asyncio streams (RFC 2326): OPTIONS, DESCRIBE, SETUP, PLAY.

Enough to prove a camera's stream is served (DESCRIBE returns an SDP) and to count a few
seconds of RTP over TCP-interleaved transport (packets, bytes, marker-bit frame ends) without
decoding video. Digest (MD5) and basic authentication; every read bounded in time and size.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from collector.protocols.errors import RtspError

MAX_HEADER_BYTES = 16_384
MAX_BODY_BYTES = 65_536
_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


@dataclass(slots=True)
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass(slots=True)
class RtpStats:
    seconds: float = 0.0
    packets: int = 0
    bytes: int = 0
    frames: int = 0
    timestamps: set[int] = field(default_factory=set)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def bitrate_kbps(self) -> float:
        return self.bytes * 8 / 1000 / self.seconds if self.seconds > 0 else 0.0


class RtspClient:
    """One RTSP connection to one URL (``rtsp://host:port/path``)."""

    def __init__(
        self, url: str, username: str = "", password: str = "", *, timeout_s: float = 5.0
    ) -> None:
        self.url = url
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 554
        self.username, self.password = username, password
        self.timeout_s = timeout_s
        self._cseq = 0
        self._auth: dict[str, str] | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.session: str | None = None

    async def __aenter__(self) -> RtspClient:
        try:
            async with asyncio.timeout(self.timeout_s):
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        except TimeoutError:
            raise RtspError(f"no connection within {self.timeout_s:g} s", "timeout") from None
        except OSError as exc:
            raise RtspError(
                f"connection refused or unreachable ({exc.strerror})", "refused"
            ) from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(self._writer.wait_closed(), 1.0)

    async def request(
        self, method: str, url: str | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        """Send one request (answering one auth challenge); the response, any status."""
        url = url or self.url
        resp = await self._send(method, url, headers or {})
        if resp.status == 401 and self.username and self._auth is None:
            challenge = resp.headers.get("www-authenticate", "")
            self._auth = _parse_challenge(challenge)
            resp = await self._send(method, url, headers or {})
        return resp

    async def _send(self, method: str, url: str, headers: dict[str, str]) -> Response:
        assert self._writer is not None
        self._cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self._cseq}", "User-Agent: ioc-collector"]
        if self.session:
            lines.append(f"Session: {self.session}")
        if self._auth is not None:
            lines.append(f"Authorization: {self._authorization(method, url)}")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            async with asyncio.timeout(self.timeout_s):
                await self._writer.drain()
                return await self._read_response()
        except TimeoutError:
            raise RtspError(f"{method}: no answer within {self.timeout_s:g} s", "timeout") from None
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise RtspError(
                f"{method}: connection dropped ({type(exc).__name__})", "disconnected"
            ) from None
        except asyncio.LimitOverrunError:
            raise RtspError(f"{method}: header line too long", "parse") from None

    def _authorization(self, method: str, url: str) -> str:
        auth = self._auth or {}
        if auth.get("scheme") == "basic":
            raw = f"{self.username}:{self.password}".encode()
            return "Basic " + base64.b64encode(raw).decode()
        realm, nonce = auth.get("realm", ""), auth.get("nonce", "")
        ha1 = _md5(f"{self.username}:{realm}:{self.password}")
        ha2 = _md5(f"{method}:{url}")
        if "auth" in auth.get("qop", "").split(","):
            cnonce, nc = "0a4f113b", f"{self._cseq:08x}"
            resp = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            extra = f', qop=auth, nc={nc}, cnonce="{cnonce}"'
        else:
            resp, extra = _md5(f"{ha1}:{nonce}:{ha2}"), ""
        return (
            f'Digest username="{self.username}", realm="{realm}", nonce="{nonce}", '
            f'uri="{url}", response="{resp}"{extra}'
        )

    async def _read_response(self) -> Response:
        assert self._reader is not None
        while True:
            first = await self._reader.readexactly(1)
            if first != b"$":
                break
            head = await self._reader.readexactly(3)  # an interleaved packet before the reply
            await self._reader.readexactly(int.from_bytes(head[1:3], "big"))
        raw = first + await self._reader.readuntil(b"\r\n\r\n")
        if len(raw) > MAX_HEADER_BYTES:
            raise RtspError("response header too large", "too_large")
        text = raw.decode("latin-1").split("\r\n")
        status = re.match(r"RTSP/1\.\d (\d{3}) ?(.*)", text[0])
        if status is None:
            raise RtspError(f"not an RTSP response: {text[0][:60]!r}", "parse")
        headers: dict[str, str] = {}
        for line in text[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            raise RtspError(f"bad or too large Content-Length {length[:20]!r}", "too_large")
        body = await self._reader.readexactly(int(length)) if int(length) else b""
        return Response(int(status.group(1)), status.group(2), headers, body)

    async def sample_rtp(self, control_url: str, seconds: float) -> RtpStats:
        """SETUP (TCP interleaved) + PLAY, count RTP for ``seconds``, TEARDOWN."""
        resp = await self.request(
            "SETUP", control_url, {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}
        )
        if resp.status != 200:
            raise RtspError(f"SETUP: RTSP {resp.status} {resp.reason}", "http")
        self.session = resp.headers.get("session", "").split(";", 1)[0] or None
        resp = await self.request("PLAY", self.url, {"Range": "npt=0.000-"})
        if resp.status != 200:
            raise RtspError(f"PLAY: RTSP {resp.status} {resp.reason}", "http")
        stats = await self._count(seconds)
        try:
            assert self._writer is not None
            self._cseq += 1
            self._writer.write(
                f"TEARDOWN {self.url} RTSP/1.0\r\nCSeq: {self._cseq}\r\n"
                f"Session: {self.session}\r\n\r\n".encode()
            )
        except OSError:
            pass
        return stats

    async def _count(self, seconds: float) -> RtpStats:
        # Reads whole socket chunks and walks the $-frames in them: per packet only a few
        # byte lookups, no await (the cost that matters with 100 cameras sampling).
        assert self._reader is not None
        stats = RtpStats()
        buf = bytearray()
        start = time.monotonic()
        try:
            async with asyncio.timeout(seconds):
                while True:
                    chunk = await self._reader.read(65536)
                    if not chunk:
                        break  # the stream ended early: what we counted is what it delivered
                    buf += chunk
                    pos = _walk_frames(buf, stats)
                    del buf[:pos]
                    if len(buf) > MAX_BODY_BYTES:
                        raise RtspError("interleaved stream out of sync", "parse")
        except TimeoutError:
            pass
        except ConnectionError:
            pass
        stats.seconds = max(time.monotonic() - start, 1e-6)
        if stats.frames == 0 and len(stats.timestamps) > 1:
            stats.frames = len(stats.timestamps) - 1  # payloads that never set the marker bit
        stats.timestamps = set()
        return stats


def _walk_frames(buf: bytearray, stats: RtpStats) -> int:
    """Count the complete interleaved frames in ``buf``; the offset where the rest begins."""
    pos, end = 0, len(buf)
    while pos + 4 <= end:
        if buf[pos] != 0x24:  # not '$': an RTSP message inside the stream; skip past it
            stop = buf.find(b"\r\n\r\n", pos)
            if stop < 0:
                return pos
            pos = stop + 4
            continue
        size = (buf[pos + 2] << 8) | buf[pos + 3]
        if pos + 4 + size > end:
            return pos
        if buf[pos + 1] == 0 and size >= 12 and buf[pos + 4] >> 6 == 2:
            stats.packets += 1
            stats.bytes += size - 12
            if buf[pos + 5] & 0x80:
                stats.frames += 1
            if len(stats.timestamps) < 100_000:
                stats.timestamps.add(int.from_bytes(buf[pos + 8 : pos + 12], "big"))
        pos += 4 + size
    return pos


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _parse_challenge(header: str) -> dict[str, str]:
    scheme, _, rest = header.partition(" ")
    params = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _PARAM.finditer(rest)
    }
    params["scheme"] = scheme.lower()
    return params


def video_control(sdp: bytes, base: str) -> str:
    """The control URL of the first video track of an SDP (RFC 2326 C.1.1)."""
    session_ctl, media_ctl, in_video, in_media = None, None, False, False
    for line in sdp.decode("utf-8", "replace").splitlines():
        if line.startswith("m="):
            if media_ctl is not None:
                break
            in_video, in_media = line.startswith("m=video"), True
        elif line.startswith("a=control:"):
            value = line[10:].strip()
            if in_video and media_ctl is None:
                media_ctl = value
            elif not in_media and session_ctl is None:
                session_ctl = value
    if not media_ctl:
        raise RtspError("SDP without a video track", "parse")
    if media_ctl.startswith("rtsp://"):
        return media_ctl
    root = session_ctl if session_ctl and session_ctl.startswith("rtsp://") else base
    if media_ctl == "*":
        return root
    return root.rstrip("/") + "/" + media_ctl
