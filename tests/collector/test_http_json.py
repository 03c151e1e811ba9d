"""http_json against a fake vendor platform: mapping, bearer and digest auth, bad answers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from collector.checks.base import CheckError, Sample, Target
from collector.checks.http_json import HttpJsonCheck, HttpJsonParams
from collector.checks.http_json.mapping import lookup
from tests.collector.vendor import PASSWORD, TOKEN, VendorPlatform

SECRETS = {"VENDOR_TOKEN": TOKEN, "VENDOR_PASS": PASSWORD, "WRONG": "nope"}
MAPPING: dict[str, Any] = {
    "rsrp_dbm": {"path": "lte.rsrp"},
    "sinr_db": {"path": "lte.sinr"},
    "mains_ok": {"path": "power.ac", "map": {"on": True, "off": False}},
    "battery_v": {"path": "power.battery_mv", "scale": 0.001},
    "state": {"path": "player.mode", "map": {"0": "idle", "1": "playing", "9": "emergency"}},
    "volume": {"path": "player.volume"},
}
EVENTS = [{"path": "alarms[0].active", "when": True, "type": "amp_fault", "severity": "critical"}]


@pytest.fixture(scope="module")
def vendor() -> Iterator[VendorPlatform]:
    with VendorPlatform() as platform:
        yield platform


def poll(**params: Any) -> Sample:
    params.setdefault("metrics", MAPPING)
    check = HttpJsonCheck(
        Target("spk", "speaker", "21025", "127.0.0.1", 30),
        HttpJsonParams.model_validate(params),
        SECRETS.__getitem__,
    )

    async def run() -> Sample:
        try:
            return await check.poll()
        finally:
            await check.close()

    return asyncio.run(run())


def test_bearer_poll_maps_paths_values_and_events(vendor: VendorPlatform) -> None:
    sample = poll(
        url=vendor.url + "/api/clusters/2",
        events=EVENTS,
        auth={"type": "bearer", "token_env": "VENDOR_TOKEN"},
    )
    assert sample.metrics == {
        "rsrp_dbm": -97.0,
        "sinr_db": 7.5,
        "mains_ok": True,
        "battery_v": pytest.approx(12.6),
        "state": "playing",
        "volume": 70.0,
    }
    assert [(e.type, e.severity) for e in sample.events] == [("amp_fault", "critical")]


def test_digest_auth(vendor: VendorPlatform) -> None:
    sample = poll(
        url=vendor.url + "/digest/clusters/1",
        auth={"type": "digest", "user": "ioc", "password_env": "VENDOR_PASS"},
    )
    assert sample.metrics["rsrp_dbm"] == -96.0


@pytest.mark.parametrize(
    ("path", "auth", "kind", "reason"),
    [
        ("/garbage", None, "parse", "not JSON"),
        ("/wrong-shape", None, "parse", "none of the mapped paths"),
        ("/api/clusters/1", {"type": "bearer", "token_env": "WRONG"}, "auth", "HTTP 401"),
        (
            "/digest/clusters/1",
            {"type": "digest", "user": "ioc", "password_env": "WRONG"},
            "auth",
            "HTTP 401",
        ),
        ("/slow", None, "timeout", "no complete answer within 1 s"),
        ("SILENT", None, "timeout", "no complete answer within 1 s"),
        ("REFUSED", None, "connect", "ConnectError"),
    ],
)
def test_bad_answers_are_check_errors(
    vendor: VendorPlatform, path: str, auth: Any, kind: str, reason: str
) -> None:
    url = {"SILENT": vendor.silent_url, "REFUSED": "http://127.0.0.1:9/x"}.get(
        path, vendor.url + path
    )
    params: dict[str, Any] = {"url": url, "timeout_s": 1}
    if auth:
        params["auth"] = auth
    with pytest.raises(CheckError) as err:
        poll(**params)
    assert err.value.kind == kind
    assert reason in err.value.reason
    assert "nope" not in err.value.reason


def test_unmappable_value_names_the_metric(vendor: VendorPlatform) -> None:
    mapping = {**MAPPING, "state": {"path": "player.mode", "map": {"0": "idle"}}}
    with pytest.raises(CheckError) as err:
        poll(
            url=vendor.url + "/api/clusters/1",
            metrics=mapping,
            auth={"type": "bearer", "token_env": "VENDOR_TOKEN"},
        )
    assert err.value.reason.startswith("state: a value of 1 characters not in its map")


def test_paths() -> None:
    doc = {"a": [{"b": 1}, {"b": {"c": "x"}}]}
    assert lookup(doc, "a[1].b.c") == (True, "x")
    assert lookup(doc, "a[2].b") == (False, None)
    assert lookup(doc, "a.b") == (False, None)
