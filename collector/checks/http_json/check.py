"""``http_json``: poll a vendor's JSON endpoint and map fields to metrics declaratively.

    checks:
      http_json:
        url: "http://{address}:8080/api/clusters/17"
        auth: {type: bearer, token_env: VENDOR_TOKEN}      # or digest/basic + user, password_env
        metrics: {rsrp_dbm: {path: lte.rsrp}, state: {path: mode, map: {"0": idle}}}
        webhook_id: cluster-17     # also accept pushes at POST /hooks/cluster-17

Without ``url`` the check only receives webhooks (see :mod:`collector.receiver`), which need
``webhook_token_env``. The whole request is bounded by ``timeout_s`` (a slow drip cannot hold
the loop) and by ``max_bytes``. Errors never quote the answer's body.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Generator
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from collector.checks.base import Check, CheckError, CheckParams, Sample
from collector.checks.http_json.mapping import EventMap, MetricMap, apply


class HttpAuth(BaseModel):
    """Digest, basic or bearer; secrets by name."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["digest", "basic", "bearer"]
    user: str | None = None
    password_env: str | None = None
    token_env: str | None = None

    @model_validator(mode="after")
    def _fields(self) -> HttpAuth:
        if self.type == "bearer" and not self.token_env:
            raise ValueError("bearer auth needs token_env")
        if self.type != "bearer" and not (self.user and self.password_env):
            raise ValueError(f"{self.type} auth needs user and password_env")
        return self


class HttpJsonParams(CheckParams):
    """Endpoint, auth, and the mapping."""

    url: str | None = Field(None, pattern=r"^https?://", max_length=500)
    auth: HttpAuth | None = None
    metrics: dict[str, MetricMap] = Field(min_length=1)
    events: list[EventMap] = Field(default_factory=list)
    webhook_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    webhook_token_env: str | None = None
    timeout_s: float = Field(5.0, gt=0, le=60)
    max_bytes: int = Field(1_048_576, ge=1024, le=16_777_216)
    verify_tls: bool = True

    @model_validator(mode="after")
    def _source(self) -> HttpJsonParams:
        if not self.url and not self.webhook_id:
            raise ValueError("http_json needs a url to poll, a webhook_id to receive, or both")
        if self.webhook_id and not self.webhook_token_env:
            raise ValueError("a webhook_id needs webhook_token_env (the hook's bearer token)")
        return self


class HttpJsonCheck(Check):
    """Poll a JSON endpoint (and/or receive its webhooks)."""

    name: ClassVar[str] = "http_json"
    Params: ClassVar[type[CheckParams]] = HttpJsonParams

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client: httpx.AsyncClient | None = None

    @property
    def polls(self) -> bool:
        return bool(self.params.url)  # type: ignore[attr-defined]

    def map(self, doc: Any) -> Sample:
        """Apply this device's mapping to a decoded document (a poll answer or a webhook)."""
        p = self.params
        assert isinstance(p, HttpJsonParams)
        return apply(doc, p.metrics, p.events)

    def _auth(self) -> httpx.Auth | None:
        a = self.params.auth  # type: ignore[attr-defined]
        if a is None:
            return None
        if a.type == "digest":
            return httpx.DigestAuth(a.user, self.secrets(a.password_env))
        if a.type == "basic":
            return httpx.BasicAuth(a.user, self.secrets(a.password_env))
        return _Bearer(self.secrets(a.token_env))

    async def poll(self) -> Sample:
        p = self.params
        assert isinstance(p, HttpJsonParams) and p.url
        url = p.url.replace("{address}", self.target.address)
        if self._client is None:
            self._client = _shared_client(p.verify_tls)
        try:
            async with asyncio.timeout(p.timeout_s):
                body = await self._fetch(url, p)
        except TimeoutError:
            raise CheckError(
                f"no complete answer within {p.timeout_s:g} s", kind="timeout"
            ) from None
        except httpx.HTTPError as exc:
            raise CheckError(f"{type(exc).__name__}: {exc}"[:200], kind="connect") from None
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            # Never the answer's bytes: the URL may be a page on the LAN that the event's
            # readers must not see.
            raise CheckError(f"answer of {len(body)} bytes is not JSON", kind="parse") from None
        return self.map(doc)

    async def _fetch(self, url: str, p: HttpJsonParams) -> bytes:
        assert self._client is not None
        async with self._client.stream("GET", url, auth=self._auth(), timeout=p.timeout_s) as resp:
            if resp.status_code in (401, 403):
                raise CheckError(f"HTTP {resp.status_code}: credentials refused", kind="auth")
            if resp.status_code >= 300:
                raise CheckError(f"HTTP {resp.status_code} from {url}", kind="http")
            chunks = bytearray()
            async for chunk in resp.aiter_bytes():
                chunks += chunk
                if len(chunks) > p.max_bytes:
                    raise CheckError(f"answer larger than {p.max_bytes} bytes", kind="parse")
            return bytes(chunks)

    async def close(self) -> None:
        self._client = None  # shared: closed with the process


_CLIENTS: dict[tuple[int, bool], httpx.AsyncClient] = {}


def _shared_client(verify: bool) -> httpx.AsyncClient:
    """One connection pool per event loop (a client per device costs ~0.5 MB of TLS context)."""
    key = (id(asyncio.get_running_loop()), verify)
    if key not in _CLIENTS:
        for old in [k for k in _CLIENTS if k[0] != key[0]]:
            del _CLIENTS[old]  # an earlier loop's (tests): its sockets went with it
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        _CLIENTS[key] = httpx.AsyncClient(verify=verify, follow_redirects=False, limits=limits)
    return _CLIENTS[key]


class _Bearer(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request
