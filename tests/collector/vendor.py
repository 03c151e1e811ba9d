"""A fake vendor platform (loudspeaker clusters behind 4G): a JSON status API with bearer or
digest auth, and the ways real devices answer badly (garbage, 401, a slow drip, silence).

No vendor publishes such an API (see DEVICES.md), so the shape is generic: one JSON document
per cluster with LTE signal, power and playback state, as integrators describe them.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import socket
import threading
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from ioc.ports import free_port
from tests.util import wait_until

TOKEN = "vendor-token-123"
USER, PASSWORD = "ioc", "digest-pass-456"
REALM = "vendor"


def cluster(n: int) -> dict[str, Any]:
    """One cluster's status document."""
    return {
        "id": f"cl-{n}",
        "lte": {"rsrp": -95 - n, "rsrq": -11, "sinr": 7.5},
        "power": {"ac": "on", "battery_mv": 12600},
        "player": {"mode": 1, "volume": 70},
        "alarms": [{"code": "AMP", "active": n == 2}],
    }


def _digest_ok(request: Request, nonce: str) -> bool:
    header = request.headers.get("authorization", "")
    if not header.startswith("Digest "):
        return False
    fields = dict(re.findall(r'(\w+)="?([^",]+)"?', header[7:]))
    ha1 = hashlib.md5(f"{USER}:{REALM}:{PASSWORD}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{request.method}:{fields.get('uri', '')}".encode()).hexdigest()
    expected = hashlib.md5(
        f"{ha1}:{nonce}:{fields.get('nc')}:{fields.get('cnonce')}:{fields.get('qop')}:{ha2}".encode()
    ).hexdigest()
    return fields.get("username") == USER and fields.get("response") == expected


def make_app() -> Starlette:
    nonce = secrets.token_hex(8)

    async def bearer(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"error": "unauthorized"}, 401)
        return JSONResponse(cluster(int(request.path_params["n"])))

    async def digest(request: Request) -> Response:
        if not _digest_ok(request, nonce):
            return Response(
                status_code=401,
                headers={
                    "WWW-Authenticate": f'Digest realm="{REALM}", nonce="{nonce}", qop="auth", '
                    "algorithm=MD5"
                },
            )
        return JSONResponse(cluster(int(request.path_params["n"])))

    async def garbage(_: Request) -> Response:
        return PlainTextResponse("<html><body>Service Unavailable</body></html>")

    async def wrong_shape(_: Request) -> Response:
        return JSONResponse({"unexpected": True})

    async def slow(_: Request) -> Response:
        async def drip() -> AsyncIterator[bytes]:
            for ch in b'{"lte": {"rsrp": -90}}':
                await asyncio.sleep(0.4)
                yield bytes([ch])

        return StreamingResponse(drip(), media_type="application/json")

    return Starlette(
        routes=[
            Route("/api/clusters/{n:int}", bearer),
            Route("/digest/clusters/{n:int}", digest),
            Route("/garbage", garbage),
            Route("/wrong-shape", wrong_shape),
            Route("/slow", slow),
        ]
    )


class VendorPlatform:
    """The fake platform served by uvicorn in a thread; plus a port that never answers."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            make_app(), host="127.0.0.1", port=self.port, log_config=None, lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        # Accepts connections (backlog) but never reads or answers: "nothing".
        self.silent = socket.socket()
        self.silent.bind(("127.0.0.1", 0))
        self.silent.listen(8)
        self.silent_url = f"http://127.0.0.1:{self.silent.getsockname()[1]}/status"

    def __enter__(self) -> VendorPlatform:
        self.thread.start()
        wait_until(lambda: self.server.started, 10, message="vendor platform up")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.silent.close()
