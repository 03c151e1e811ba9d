"""The inventory from the IOC API (collector token), cached on disk for starts without WAN.

The download is bounded in size (``IOC_COLLECTOR_INVENTORY_MAX_BYTES``) and in total time
(``IOC_COLLECTOR_INVENTORY_TIMEOUT_S``, a slow drip included). Whatever goes wrong (the API
away, an error status, a body too large or too slow, a document that does not parse or
validate, nested too deep), the collector starts from the last good copy, saying why; only a
good document replaces the cache, written owner-only without following a planted link.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx

from collector.inventory import Inventory, parse_inventory
from collector.settings import CollectorSettings
from devices.registry import RegistryError
from ioc.redact import redact
from ioc.secretfile import write_secret

log = logging.getLogger(__name__)
ROUTE = "/api/v1/collector/inventory"
CACHE = "inventory.json"


class FetchError(Exception):
    """The inventory could not be downloaded within the bounds."""


def inventory_from_api(api_url: str, token: str, settings: CollectorSettings) -> Inventory:
    """Fetch and validate the inventory; fall back to the last good copy on any failure."""
    cache = settings.state_dir / CACHE
    url = api_url.rstrip("/") + ROUTE
    try:
        text = asyncio.run(_download(url, token, settings))
        inventory = parse_inventory(text, url)  # raises before the cache is touched
    except (FetchError, RegistryError, RecursionError, MemoryError) as exc:
        why = "; ".join(exc.errors[:3]) if isinstance(exc, RegistryError) else str(exc)
        return _cached(cache, redact(f"inventory from {url} not usable: {why}"[:500]))
    write_secret(cache, text)  # a half-written cache never replaces the good one
    return inventory


async def _download(url: str, token: str, settings: CollectorSettings) -> str:
    limit = settings.inventory_max_bytes
    deadline = settings.inventory_timeout_s
    try:
        async with asyncio.timeout(deadline), httpx.AsyncClient(timeout=deadline) as client:
            headers = {"Authorization": f"Bearer {token}"}
            async with client.stream("GET", url, headers=headers) as resp:
                if resp.status_code != 200:
                    raise FetchError(f"HTTP {resp.status_code}")
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise FetchError(f"answer of {declared} bytes exceeds {limit}")
                body = bytearray()
                async for chunk in resp.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise FetchError(f"answer larger than {limit} bytes")
    except TimeoutError:
        raise FetchError(f"no complete answer within {deadline:g} s") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"cannot reach the API: {type(exc).__name__}: {exc}") from None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise FetchError("answer is not UTF-8") from None


def _cached(cache: Path, why: str) -> Inventory:
    if not cache.exists():
        raise RegistryError([f"{why}; and no cached inventory at {cache}"])
    log.warning("%s; using the cached inventory %s", why, cache)
    return parse_inventory(cache.read_text(encoding="utf-8"), str(cache))
