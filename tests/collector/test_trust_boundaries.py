"""Issue 23, classes 1-3 on the collector's side, with generated hostile inputs: secret names
resolve only from the secrets file (or IOC_SECRET_*), errors never carry what a URL answered,
pushes need a secret or an allowed address, trust the TCP peer and never heal a poll check,
secrets in URLs are refused at import and masked in every text, caches are owner-only."""

from __future__ import annotations

import asyncio
import os
import string
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.checks.base import CheckError, Target
from collector.checks.http_json import HttpJsonCheck, HttpJsonParams
from collector.secrets import SecretStore
from collector.settings import CollectorSettings
from devices.registry import parse_yaml
from ioc.redact import redact, url_problem
from ioc.settings import Settings
from tests.collector.edge import HOOK_TOKEN, PUSH_SECRET, edge, inventory

FAST = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
SETTING_NAMES = sorted(
    {f"IOC_{n.upper()}" for n in [*Settings.model_fields, *CollectorSettings.model_fields]}
    | {"IOC_COLLECTOR_TOKEN", "IOC_MQTT_URL"}
)
NAME = st.from_regex(r"\A[A-Z][A-Z0-9_]{0,30}\Z")


@FAST
@given(setting=st.sampled_from(SETTING_NAMES), other=NAME, value=st.text(min_size=4).map(str.strip))
def test_names_resolve_only_from_the_secrets_file_or_the_prefix(
    setting: str, other: str, value: str
) -> None:
    value = value or "x-value"
    env = {setting: value, other: value, "IOC_SECRET_" + other: value + "!"}
    store = SecretStore({"FROM_FILE": "f"}, environ=env)
    for name in (setting, setting.lower()):
        with pytest.raises(CheckError, match="setting of the IOC"):
            store(name)
    if not other.startswith("IOC_"):
        with pytest.raises(CheckError, match="not set on the collector"):
            store(other)  # in the environment, not in the file: never read
    assert store("IOC_SECRET_" + other) == value + "!"
    assert store("FROM_FILE") == "f"


CHECK_NAME_FIELDS = [
    ("http_json", "auth: {{type: bearer, token_env: {n}}}, url: 'http://x/a', metrics: {{v: {{path: v}}}}"),
    ("http_json", "auth: {{type: digest, user: u, password_env: {n}}}, url: 'http://x/a', metrics: {{v: {{path: v}}}}"),
    ("http_json", "webhook_id: h, webhook_token_env: {n}, metrics: {{v: {{path: v}}}}"),
    ("snmp", "community_env: {n}"),
    ("hikvision", "password_env: {n}"),
    ("rtsp", "password_env: {n}"),
]  # fmt: skip


def _doc(check: str, params: str) -> str:
    return (
        'devices:\n  - {id: d1, type: camera, commune: "21025", name: D, address: 127.0.0.1, '
        f"collector: c1, checks: {{{check}: {{{params}}}}}}}\n"
    )


@FAST
@given(
    spot=st.sampled_from(CHECK_NAME_FIELDS),
    name=st.one_of(
        st.sampled_from(SETTING_NAMES),
        NAME.map(lambda n: "IOC_" + n).filter(lambda n: not n.startswith("IOC_SECRET_")),
        st.text(string.ascii_letters + "-. $/", min_size=1, max_size=20).filter(
            lambda n: any(c in "-. $/" for c in n.strip()) and n.strip() == n
        ),
    ),
)
def test_import_refuses_names_a_collector_would_not_resolve(
    spot: tuple[str, str], name: str
) -> None:
    check, params = spot
    registry = parse_yaml(_doc(check, params.format(n=f"'{name}'")), "inv.yaml")
    assert registry.errors, name
    assert any("secret name" in e for e in registry.errors), registry.errors


class _Page(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(_Page.body)))
        self.end_headers()
        self.wfile.write(_Page.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def page() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@FAST
@given(
    marker=st.text(string.ascii_letters + string.digits, min_size=6, max_size=12),
    shape=st.sampled_from(["<html>{m}</html>", "{m}", '{{"v": "{m}"}}', '{{"v": ["{m}"]}}']),
)
def test_check_errors_never_carry_what_the_url_answered(page: str, marker: str, shape: str) -> None:
    _Page.body = shape.format(m=marker).encode()
    params = HttpJsonParams.model_validate(
        {"url": page, "metrics": {"state": {"path": "v", "map": {"on": "playing"}}}}
    )
    check = HttpJsonCheck(Target("d", "speaker", "21025", "127.0.0.1", 30), params, {}.__getitem__)
    with pytest.raises(CheckError) as err:
        asyncio.run(check.poll())
    assert marker not in err.value.reason


SECRET_KEYS = ["token", "key", "api_key", "apiKey", "password", "passwd", "secret", "sig",
               "signature", "auth", "access_token", "X-Amz-Signature", "client_secret",
               "authToken", "pwd", "session_id", "jwt"]  # fmt: skip


@FAST
@given(
    key=st.sampled_from(SECRET_KEYS).flatmap(
        lambda k: st.sampled_from([k, k.upper(), k.lower(), k.title()])
    ),
    value=st.text(string.ascii_letters + string.digits, min_size=8, max_size=20),
    where=st.sampled_from(["?{k}={v}", "?a=1&{k}={v}", "?a=1;{k}={v}", "#{k}={v}", "?{k}={v}&b=2"]),
    userinfo=st.sampled_from(["", "u:{v}@", "{v}@", ":{v}@"]),
)
def test_secrets_in_urls_are_refused_at_import_and_masked_everywhere(
    key: str, value: str, where: str, userinfo: str
) -> None:
    url = f"http://{userinfo.format(v=value)}10.0.0.5:8080/api" + where.format(k=key, v=value)
    assert url_problem(url) is not None
    doc = _doc("http_json", f"url: '{url}', metrics: {{v: {{path: v}}}}")
    assert any("URL" in e for e in parse_yaml(doc, "inv.yaml").errors)
    for text in (url, f"GET {url} failed: HTTP 500 from {url}", f"ConnectError: {url!r}"):
        assert value not in redact(text), text


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/api?channel=1&format=json",
        "https://vendor.example/v1/clusters/17",
        "http://{address}:8080/status?signal=1&monkey=2",
    ],
)
def test_ordinary_urls_pass(url: str) -> None:
    assert url_problem(url) is None


def test_inventory_cache_is_owner_only_and_never_follows_a_link(tmp_path: Path) -> None:
    from collector.fetch import CACHE, _cached  # noqa: F401 - the name of the cache file
    from ioc.secretfile import write_secret

    target = tmp_path / "elsewhere"
    target.write_text("keep")
    (tmp_path / CACHE).symlink_to(target)
    write_secret(tmp_path / CACHE, "devices: []\n")
    assert target.read_text() == "keep"
    assert not (tmp_path / CACHE).is_symlink()
    assert (tmp_path / CACHE).stat().st_mode & 0o777 == 0o600


ALERT = (
    '<?xml version="1.0"?><EventNotificationAlert xmlns="http://www.hikvision.com/ver20/XMLSchema">'
    "<ipAddress>{ip}</ipAddress><channelID>1</channelID><eventType>{ev}</eventType>"
    "<eventState>{state}</eventState></EventNotificationAlert>"
)


def _post(base: str, source: str, body: str, headers: dict[str, str]) -> int:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=5) as client:
        return client.post(f"{base}/hikvision", content=body, headers=headers).status_code


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    source=st.tuples(st.integers(0, 3), st.integers(2, 250)).map(lambda t: f"127.0.{t[0]}.{t[1]}"),
    claimed=st.sampled_from(["127.0.2.10", "127.0.2.11", "127.0.2.1", "10.9.9.9"]),
    ev=st.sampled_from(["tamperdetection", "videoloss", "shelteralarm"]),
    state=st.sampled_from(["active", "inactive"]),
    auth=st.sampled_from([None, "Bearer wrong", "Basic YWRtaW46d3Jvbmc=", "Bearer " + PUSH_SECRET]),
)
def test_forged_pushes_are_refused_or_attributed_to_their_peer(
    tmp_path_factory: pytest.TempPathFactory,
    source: str,
    claimed: str,
    ev: str,
    state: str,
    auth: str | None,
) -> None:
    with edge(tmp_path_factory.mktemp("edge"), push_allow="127.0.2.0/28") as rig:
        check = next(c for c in rig.collector.checks if c.target.device_id == "cam-0")
        rig.collector.scheduler.failed(check, "timeout", "no answer within 9 s")
        headers = {"Content-Type": "application/xml", **({"Authorization": auth} if auth else {})}
        code = _post(rig.url, source, ALERT.format(ip=claimed, ev=ev, state=state), headers)
        allowed = source.startswith("127.0.2.") and int(source.rsplit(".", 1)[1]) < 16
        authorised = allowed or auth == "Bearer " + PUSH_SECRET
        known = {"127.0.2.1": "nvr-1", "127.0.2.10": "cam-0", "127.0.2.11": "cam-1",
                 "127.0.2.12": "cam-2"}  # fmt: skip
        if not authorised:
            assert code == 403
        elif source not in known:
            assert code == 403  # an authorised address that is no watched device
        else:
            assert code == 200
            speaker = known[source]
            if speaker == "nvr-1" and claimed in known:
                speaker = known[claimed]  # only an NVR speaks for another device
            devices = {d for d, e in rig.events() if e["type"] != "check_error"}
            assert devices <= {speaker}
        # Whatever was pushed, the camera's failing poll check is still failing.
        assert ("cam-0", "hikvision") in rig.collector.scheduler.health.errors
        assert not rig.events("check_recovered")


def test_receiver_binds_loopback_unless_told() -> None:
    assert CollectorSettings().webhook_host == "127.0.0.1"
    with pytest.raises(ValueError):
        CollectorSettings(push_allow="10.0.0.0/8, not-a-network")


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    token=st.one_of(
        st.none(),
        st.just(HOOK_TOKEN),
        st.just(HOOK_TOKEN[:-1]),
        st.text(string.ascii_letters + string.digits + string.punctuation, min_size=1, max_size=30),
    )
)
def test_every_hook_needs_its_token(
    tmp_path_factory: pytest.TempPathFactory, token: str | None
) -> None:
    with pytest.raises(ValueError, match="webhook_token_env"):
        HttpJsonParams.model_validate({"webhook_id": "h", "metrics": {"v": {"path": "v"}}})
    with edge(tmp_path_factory.mktemp("edge")) as rig:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        resp = httpx.post(f"{rig.url}/hooks/h1", json={"v": 1}, headers=headers, timeout=5)
        assert resp.status_code == (202 if token == HOOK_TOKEN else 401)
        good = {"Authorization": f"Bearer {HOOK_TOKEN}"}
        assert httpx.post(f"{rig.url}/hooks/h1", json={"v": 3}, headers=good).status_code == 202


def test_inventory_helper_is_valid() -> None:
    assert os.environ.get("IOC_SECRET_NOT_THERE") is None
    from collector.inventory import parse_inventory

    assert len(parse_inventory(inventory(2)).devices) == 5
