"""The inventory lines in the camera docs (en + vi) are valid for the collector as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collector.inventory import parse_inventory

ROOT = Path(__file__).resolve().parents[3]
YAML = re.compile(r"^```yaml\n(.*?)^```", re.M | re.S)


@pytest.mark.parametrize("doc", ["docs/cameras.md", "docs/vi/cameras.md"])
def test_documented_inventory_parses(doc: str) -> None:
    (block,) = YAML.findall((ROOT / doc).read_text(encoding="utf-8"))
    inventory = parse_inventory(block, doc)
    watched = {d.target.device_id: d for d in inventory.watched_by("col-1")}
    names = {c.name for d in watched.values() for c in d.checks}
    assert names == {"hikvision", "dahua", "onvif", "rtsp"}
    assert len(watched) == 4
