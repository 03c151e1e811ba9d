"""Console extras: the map, linking Telegram from the console page, `ioc users passwd`."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import psycopg
from click.testing import CliRunner

from api.cli import users
from api.passwords import verify
from tests.api.conftest import World
from tests.console.conftest import csrf_of


def test_map_with_located_devices(
    console: Callable[..., httpx.Client], db: psycopg.Connection, world: World
) -> None:
    db.execute("UPDATE devices SET lat = 15.118, lon = 108.742 WHERE id = 'a-cam-1'")
    db.execute("UPDATE devices SET lat = 15.121, lon = 108.750 WHERE id = 'a-uplink'")
    c = console("tech_a", console={"map_tile_url": "https://tiles.invalid/{z}/{x}/{y}.png"})
    html = c.get("/console/communes/21025").text
    tiles = re.findall(r'<img src="https://tiles\.invalid/(\d+)/(\d+)/(\d+)\.png"', html)
    assert 1 <= len(tiles) <= 9
    assert 'href="/console/devices/a-cam-1"' in html and "dot st-unreachable" in html


def test_link_code_from_the_console(
    console: Callable[..., httpx.Client], db: psycopg.Connection, world: World
) -> None:
    from alerts.telegram.links import link

    c = console("tech_a")
    page = c.get("/console/telegram")
    assert "Chưa liên kết Telegram" in page.text
    r = c.post("/console/telegram/code", data={"csrf": csrf_of(page.text)})
    code = re.search(r"/start ([A-Z0-9]{8})", r.text)
    assert code, r.text
    user = link(db, code.group(1).lower(), 4242, "kythuat_an")  # typed in lower case
    assert user is not None and user.name == "tech_a" and user.communes == ("21025",)
    assert link(db, code.group(1), 4243, None) is None  # one time only
    assert "@kythuat_an" in c.get("/console/telegram").text


def test_users_passwd(
    db_url: str, db: psycopg.Connection, world: World, monkeypatch: object
) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("IOC_DATABASE_URL", db_url)
    from api import security

    security.create_user(db, "kt.an", "technician", ["21025"], 30)
    runner = CliRunner()
    result = runner.invoke(users, ["passwd", "kt.an", "--password-stdin"], input="mật khẩu dài\n")
    assert result.exit_code == 0, result.output
    assert verify(db, "kt.an", "mật khẩu dài") is not None
    assert verify(db, "kt.an", "sai") is None
    result = runner.invoke(users, ["passwd", "kt.an", "--password-stdin"], input="short\n")
    assert result.exit_code != 0 and "at least 8 characters" in result.output
    result = runner.invoke(users, ["passwd", "nobody", "--password-stdin"], input="long enough\n")
    assert result.exit_code != 0 and "no active user" in result.output
    result = runner.invoke(
        users,
        ["create", "kt.binh", "--role", "technician", "--password-stdin"],
        input="another long one\n",
    )
    assert result.exit_code == 0 and "console password set" in result.output
    assert verify(db, "kt.binh", "another long one") is not None
