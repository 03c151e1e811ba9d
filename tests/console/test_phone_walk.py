"""Every console page at 360 px in both languages: nothing scrolls sideways, every target is at
least 44 px, and the text shows words, not field names, ids, 1.0/0.0 or JSON.

Screenshots of each page (phone and desktop) go to ``$IOC_TEST_ARTEFACTS/console`` (a temporary
directory without it) for people to look at; the checks here are what the test asserts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from devices.catalogue import CATALOGUE, all_metrics
from tests.api.conftest import World
from tests.console import test_browser
from tests.util import wait_until

DEVICE_IDS = ("a-uplink", "a-cam-1", "a-cam-2", "a-spk-1", "b-uplink", "b-cam-1")
browser = test_browser.browser  # the module's headless chromium (a fixture)
pytestmark = test_browser.pytestmark  # skipped without chromium and chromedriver
_login = test_browser._login
RAW_WORDS = sorted(
    {m for m in all_metrics() if "_" in m}
    | {e for t in CATALOGUE for e in t.events if "_" in e}
    | set(DEVICE_IDS)
)
RAW = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(w) for w in RAW_WORDS) + r")(?![\w-])"
    r"|(?<![\d,.])[01]\.0(?![\d])"  # a boolean shown as a float
    r"|[{\[]\s*\""  # JSON
)
SMALL_TARGETS = """
const out = [];
for (const el of document.querySelectorAll('a, button, select, summary, input, textarea')) {
  if (el.type === 'hidden') continue;
  const target = (el.type === 'radio' || el.type === 'checkbox') ? el.closest('label') || el : el;
  const r = target.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;  // not shown (closed <details>)
  if (r.width < 43.5 || r.height < 43.5)
    out.push(`${el.tagName} ${el.id || el.name || el.textContent.trim().slice(0, 30)} `
             + `${Math.round(r.width)}x${Math.round(r.height)}`);
}
return out;
"""


def _artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = os.environ.get("IOC_TEST_ARTEFACTS")
    out = Path(root) / "console" if root else tmp_path_factory.mktemp("console-shots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _routes(world: World) -> dict[str, str]:
    return {
        "incidents": "/console/",
        "alert": f"/console/alerts/{world.alerts['a_root']}",
        "alert-child": f"/console/alerts/{world.alerts['a_child']}",
        "device-camera": "/console/devices/a-cam-1",
        "device-speaker": "/console/devices/a-spk-1",
        "device-link": "/console/devices/a-uplink",
        "communes": "/console/communes",
        "commune": "/console/communes/21025",
        "silences": "/console/silences",
        "telegram": "/console/telegram",
        "report": "/console/reports",
    }


def _check(driver: WebDriver, name: str) -> list[str]:
    problems = []
    if not driver.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    ):
        width = driver.execute_script("return document.documentElement.scrollWidth")
        problems.append(f"{name}: scrolls sideways ({width} px)")
    problems += [f"{name}: small target {s}" for s in driver.execute_script(SMALL_TARGETS)]
    text = str(driver.execute_script("return document.body.innerText"))
    problems += [f"{name}: raw text {m.group(0)!r}" for m in RAW.finditer(text)]
    return problems


def test_every_page_fits_a_phone_in_both_languages(
    browser: WebDriver,
    serve: Callable[..., httpx.Client],
    world: World,
    passwords: dict[str, str],
    db: psycopg.Connection,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    db.execute(
        "INSERT INTO silences (matchers, starts_at, ends_at, created_by, comment) VALUES "
        '(\'[{"label": "device", "op": "=", "value": "a-uplink"}]\', now(), '
        "now() + interval '1 hour', 'tech_a', 'Sửa cáp')"
    )
    db.execute(  # a loudspeaker with a dead amplifier, a stale switch value
        "INSERT INTO device_latest_points (device_key, metric_id, time, value) "
        "SELECT d.key, m.id, now() - interval '2 days', v FROM devices d, "
        "(VALUES ('amp_ok', 0.0), ('mains_ok', 1.0), ('battery_v', 12.6)) x(metric, v) "
        "JOIN metrics m ON m.name = x.metric WHERE d.id = 'a-spk-1'"
    )
    out = _artefacts(tmp_path_factory)
    site = str(serve(console={"cookie_secure": False}).base_url).rstrip("/")
    browser.delete_all_cookies()
    browser.set_window_size(360, 780)
    browser.get(f"{site}/console/login")
    for size in ("phone", "desktop"):
        browser.save_screenshot(str(out / f"login-vi-{size}.png"))
    assert _check(browser, "login") == []
    _login(browser, "tech_a")
    problems: list[str] = []
    for lang in ("vi", "en"):
        browser.get(f"{site}/console/lang/{lang}?next=/console/")
        for name, path in _routes(world).items():
            browser.set_window_size(360, 780)
            browser.get(site + path)
            wait_until(lambda: browser.execute_script("return document.readyState") == "complete")
            assert "/console/login" not in browser.current_url
            problems += _check(browser, f"{name} ({lang})")
            browser.save_screenshot(str(out / f"{name}-{lang}-phone.png"))
            browser.set_window_size(1280, 900)
            browser.save_screenshot(str(out / f"{name}-{lang}-desktop.png"))
    assert problems == []
    assert len(list(out.glob("*.png"))) >= 2 * 2 * len(_routes(world))
