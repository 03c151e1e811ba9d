"""The inventory from the IOC API (collector token), cached on disk for starts without WAN."""

from __future__ import annotations

import logging
import os

import httpx

from collector.inventory import Inventory, parse_inventory
from collector.settings import CollectorSettings
from devices.registry import RegistryError

log = logging.getLogger(__name__)
ROUTE = "/api/v1/collector/inventory"


def inventory_from_api(api_url: str, token: str, settings: CollectorSettings) -> Inventory:
    """Fetch and validate the inventory; fall back to the last good copy when the API is away."""
    cache = settings.collector_state_dir / "inventory.json"
    url = api_url.rstrip("/") + ROUTE
    try:
        resp = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=15)
    except httpx.HTTPError as exc:
        return _cached(cache, f"cannot reach {url}: {exc}")
    if resp.status_code >= 500:
        return _cached(cache, f"{url} answered {resp.status_code}")
    if resp.status_code != 200:
        raise RegistryError([f"{url}: HTTP {resp.status_code}: {resp.text[:200]}"])
    text = resp.text
    inventory = parse_inventory(text, url)  # raises before the cache is touched
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, cache)  # a half-written cache never replaces the good one
    return inventory


def _cached(cache: os.PathLike[str], why: str) -> Inventory:
    from pathlib import Path

    path = Path(cache)
    if not path.exists():
        raise RegistryError([f"{why}; and no cached inventory at {path}"])
    log.warning("%s; using the cached inventory %s", why, path)
    return parse_inventory(path.read_text(encoding="utf-8"), str(path))
