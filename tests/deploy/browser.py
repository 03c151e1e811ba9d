"""Headless chromium (Debian's, as tests/console uses it) trusting one server certificate."""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from tests.console.test_browser import CHROMEDRIVER, CHROMIUM, FLAGS


@contextlib.contextmanager
def chromium_trusting(server_crt: Path) -> Iterator[WebDriver]:
    """Chromium that accepts exactly this certificate's key (SPKI pin), nothing else untrusted."""
    cert = x509.load_pem_x509_certificates(server_crt.read_bytes())[0]
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pin = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--ignore-certificate-errors-spki-list={pin}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
