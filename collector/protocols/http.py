"""Bounded HTTP digest requests to devices (Hikvision ISAPI, Dahua CGI).

Every request has a total deadline (a device that drips one byte a second is a timeout, not a
hung check) and a size cap (a device that answers megabytes is an error, not an OOM). httpx's
``DigestAuth`` answers MD5 and SHA-256 challenges, ``-sess`` variants and ``qop=auth``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

from collector.protocols.errors import HttpError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 2_000_000


class DigestClient:
    """One device's HTTP endpoint with digest credentials and bounded reads."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str | Callable[[], str],
        *,
        timeout_s: float = 10.0,
        max_bytes: int = MAX_BODY_BYTES,
        verify_tls: bool = False,
    ) -> None:
        self.base_url = base_url
        self.username = username
        self.password = password  # a callable is resolved at first use (secrets may be unset)
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.verify_tls = verify_tls
        self._http: httpx.AsyncClient | None = None

    @property
    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            password = self.password() if callable(self.password) else self.password
            # Cameras carry self-signed certificates; verification is opt-in per device.
            self._http = httpx.AsyncClient(
                base_url=self.base_url,
                auth=httpx.DigestAuth(self.username, password),
                timeout=httpx.Timeout(self.timeout_s),
                verify=self.verify_tls,
                follow_redirects=False,
            )
        return self._http

    async def get(self, path: str, *, missing_ok: bool = False) -> bytes | None:
        """GET ``path`` and return its body; None for a 404 when ``missing_ok``."""
        answer = await self.fetch(path, missing_ok=missing_ok)
        return None if answer is None else answer[1]

    async def fetch(self, path: str, *, missing_ok: bool = False) -> tuple[str, bytes] | None:
        """GET ``path``: its ``Content-Type`` and body; None for a 404 when ``missing_ok``."""
        try:
            async with asyncio.timeout(self.timeout_s):
                async with self._client.stream("GET", path) as resp:
                    if resp.status_code == 404 and missing_ok:
                        return None
                    raise_for_status(resp, path)
                    body = await read_bounded(resp, self.max_bytes, path)
                    return resp.headers.get("content-type", ""), body
        except TimeoutError:
            raise HttpError(
                f"{path}: no complete answer within {self.timeout_s:g} s", kind="timeout"
            ) from None
        except httpx.HTTPError as exc:
            raise transport_error(exc, path) from None

    @asynccontextmanager
    async def open_stream(
        self, path: str, connect_timeout_s: float
    ) -> AsyncIterator[httpx.Response]:
        """Open a long-lived response (event streams); the caller bounds each read itself."""
        try:
            async with asyncio.timeout(connect_timeout_s):
                req = self._client.build_request(
                    "GET", path, timeout=httpx.Timeout(connect_timeout_s, read=None)
                )
                resp = await self._client.send(req, stream=True)
        except TimeoutError:
            raise HttpError(
                f"{path}: no answer within {connect_timeout_s:g} s", kind="timeout"
            ) from None
        except httpx.HTTPError as exc:
            raise transport_error(exc, path) from None
        try:
            raise_for_status(resp, path)
            yield resp
        finally:
            await resp.aclose()

    async def aclose(self) -> None:
        """Close pooled connections."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def raise_for_status(resp: httpx.Response, path: str) -> None:
    """HttpError for anything but 2xx (401/403 as ``auth``)."""
    code = resp.status_code
    if 200 <= code < 300:
        return
    if code in (401, 403):
        raise HttpError(
            f"{path}: HTTP {code}: credentials refused (user, password or digest algorithm)",
            kind="auth",
        )
    raise HttpError(f"{path}: HTTP {code}", kind="http")


async def read_bounded(resp: httpx.Response, max_bytes: int, path: str) -> bytes:
    """The whole body, or HttpError once it passes ``max_bytes``."""
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise HttpError(f"{path}: answer of {declared} bytes exceeds {max_bytes}", kind="too_large")
    buf = bytearray()
    async for chunk in resp.aiter_bytes():
        buf += chunk
        if len(buf) > max_bytes:
            raise HttpError(f"{path}: answer exceeds {max_bytes} bytes", kind="too_large")
    return bytes(buf)


def transport_error(exc: httpx.HTTPError, path: str) -> HttpError:
    """Map an httpx failure to a HttpError with a short machine kind."""
    if isinstance(exc, httpx.TimeoutException):
        return HttpError(f"{path}: timed out ({type(exc).__name__})", kind="timeout")
    if isinstance(exc, httpx.ConnectError):
        return HttpError(f"{path}: connection refused or unreachable", kind="refused")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return HttpError(f"{path}: connection dropped ({type(exc).__name__})", kind="disconnected")
    return HttpError(f"{path}: {type(exc).__name__}: {exc}"[:200], kind="error")
