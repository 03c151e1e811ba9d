"""The console in a real browser (Debian's chromium + chromedriver, driven by Selenium).

From a notification link to an acknowledged, assigned and silenced incident; CSRF and commune
scope refusals; a 360 px wide phone screen; the first page's weight.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.api.conftest import World
from tests.console.conftest import password_of
from tests.util import wait_until

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=360,780",
)

pytestmark = pytest.mark.skipif(
    not shutil.which(CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
    "chromium-driver; .ci/run installs them)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """One headless chromium for the module (the system chromedriver, never a download)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def site(
    serve: Callable[..., httpx.Client],
    world: World,
    passwords: dict[str, str],
    browser: WebDriver,
) -> str:
    """The API (with its console) on plain http on loopback; a fresh browser session."""
    client = serve(console={"cookie_secure": False})
    browser.delete_all_cookies()
    browser.set_window_size(360, 780)
    return str(client.base_url).rstrip("/")


def _login(browser: WebDriver, name: str) -> None:
    browser.find_element(By.ID, "username").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(password_of(name))
    browser.find_element(By.ID, "login").click()
    wait_until(lambda: "/console/login" not in browser.current_url, 10, message="logged in")


def _text(browser: WebDriver, element_id: str) -> str:
    """The element's text; empty while the page is being replaced (a form just submitted).

    Chromium answers a read during navigation with a missing or stale element, or with an
    "unhandled inspector error": all mean "not there yet" and the caller waits on.
    """
    try:
        return str(browser.find_element(By.ID, element_id).text)
    except WebDriverException:
        return ""


def _fits_the_phone(browser: WebDriver) -> bool:
    return bool(
        browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    )


def test_from_notification_link_to_acked_assigned_silenced(
    browser: WebDriver, site: str, db: psycopg.Connection, world: World
) -> None:
    alert = world.alerts["a_root"]
    browser.get(f"{site}/console/alerts/{alert}")  # the link of a notification
    assert "/console/login" in browser.current_url
    _login(browser, "tech_a")
    wait_until(lambda: browser.current_url.endswith(f"/console/alerts/{alert}"), 10)
    browser.get(f"{site}/console/")
    row = browser.find_element(By.ID, f"alert-{alert}")
    assert "Nghiêm trọng" in row.text and "Cáp quang UBND" in row.text
    assert _fits_the_phone(browser)
    row.find_element(By.TAG_NAME, "a").click()
    wait_until(lambda: browser.find_elements(By.ID, "ack-note"), 10)
    assert _fits_the_phone(browser)
    browser.find_element(By.ID, "ack-note").send_keys("Đang tới kiểm tra cáp")
    browser.find_element(By.ID, "ack").click()
    wait_until(lambda: _text(browser, "flash") == "Đã xác nhận cảnh báo.", 10, message="ack")
    assert "Đã xác nhận bởi tech_a" in _text(browser, "acked")
    assert "Đang tới kiểm tra cáp" in _text(browser, "acked")
    browser.find_element(By.ID, "assign-me").click()
    wait_until(lambda: _text(browser, "assignee") == "tech_a", 10)
    browser.find_element(By.ID, "silence-4h").click()  # presets first: one tap
    wait_until(lambda: "Đã tạo lệnh tạm tắt" in _text(browser, "flash"), 10)
    row = db.execute("SELECT matchers, created_by FROM silences").fetchone()
    assert row == ([{"label": "device", "op": "=", "value": "a-uplink"}], "tech_a")
    browser.get(f"{site}/console/silences")
    assert "Cáp quang UBND" in browser.find_element(By.TAG_NAME, "main").text
    browser.find_element(By.ID, "logout").click()
    wait_until(lambda: "/console/login" in browser.current_url, 10)
    browser.get(f"{site}/console/")
    assert "/console/login" in browser.current_url


def test_forged_form_is_refused(
    browser: WebDriver, site: str, db: psycopg.Connection, world: World
) -> None:
    alert = world.alerts["a_root"]
    browser.get(f"{site}/console/login")
    _login(browser, "tech_a")
    browser.get(f"{site}/console/alerts/{alert}")
    browser.execute_script("document.querySelector('#ack-form input[name=csrf]').value = 'forged'")
    browser.find_element(By.ID, "ack").click()
    wait_until(lambda: "CSRF" in _text(browser, "error-detail"), 10, message="CSRF refusal")
    assert db.execute("SELECT acknowledged_by FROM alerts WHERE id = %s", (alert,)).fetchone() == (
        None,
    )


def test_technician_of_another_commune_is_refused(
    browser: WebDriver, site: str, world: World
) -> None:
    browser.get(f"{site}/console/login")
    _login(browser, "tech_a")
    wait_until(lambda: browser.find_elements(By.ID, "incidents"), 10)
    assert not browser.find_elements(By.ID, f"alert-{world.alerts['b_root']}")
    browser.get(f"{site}/console/alerts/{world.alerts['b_root']}")
    assert "Không tìm thấy" in _text(browser, "error-detail")


def test_first_page_is_light(browser: WebDriver, site: str, world: World) -> None:
    browser.get(f"{site}/console/login")
    _login(browser, "tech")
    wait_until(lambda: browser.find_elements(By.ID, "incidents"), 10)
    total = browser.execute_script(
        "return performance.getEntriesByType('navigation')[0].transferSize"
        " + performance.getEntriesByType('resource')"
        ".reduce((n, r) => n + r.transferSize, 0)"
    )
    assert 0 < total < 150_000
    hosts = browser.execute_script(
        "return performance.getEntriesByType('resource').map(r => new URL(r.name).host)"
    )
    assert all(h == site.split("//")[1] for h in hosts)  # nothing loaded from elsewhere
