"""Console fixtures: the API's seeded world and users, with console passwords, and logins."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest

from api.passwords import HASHER, set_password
from tests.api import conftest as api_fixtures
from tests.api.conftest import USERS, World

# The API tests' fixtures (seeded world, users with tokens, live server), reused here.
world = api_fixtures.world
tokens = api_fixtures.tokens
make_settings = api_fixtures.make_settings
serve = api_fixtures.serve
client = api_fixtures.client
as_user = api_fixtures.as_user

CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def password_of(name: str) -> str:
    """The console password the fixtures give ``name``."""
    return f"pw-{name}-Tịnh-Sơn"


@functools.cache
def _hash_of(name: str) -> str:
    return HASHER.hash(password_of(name))


@pytest.fixture
def passwords(db: psycopg.Connection, tokens: dict[str, str]) -> dict[str, str]:
    """Every test user (see ``USERS``) with a console password (hashed once per session)."""
    set_password(db, "tech_a", password_of("tech_a"))  # the product's own path, once
    for name in USERS:
        db.execute(
            "UPDATE ioc_auth.users SET password_hash = %s WHERE name = %s", (_hash_of(name), name)
        )
    return {name: password_of(name) for name in USERS}


def csrf_of(html: str) -> str:
    """The first CSRF token in a page."""
    found = CSRF.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def log_in(base: httpx.Client, name: str, password: str | None = None) -> httpx.Response:
    """Post the login form like a browser (form token and its cookie first)."""
    form = base.get("/console/login")
    assert form.status_code == 200, form.text
    return base.post(
        "/console/login",
        data={
            "username": name,
            "password": password or password_of(name),
            "csrf": csrf_of(form.text),
            "next": "/console/",
        },
    )


@pytest.fixture
def console(
    serve: Callable[..., httpx.Client], world: World, passwords: dict[str, str]
) -> Callable[..., httpx.Client]:
    """A logged-in client per user name (plain http: the Secure cookie flag is off)."""
    base_url: list[str] = []

    def login(name: str, **overrides: Any) -> httpx.Client:
        if not base_url or overrides:
            console = {"cookie_secure": False, **overrides.pop("console", {})}
            c = serve(console=console, **overrides)
            base_url[:] = [str(c.base_url)]
        session = httpx.Client(base_url=base_url[0], timeout=30)
        r = log_in(session, name)
        assert r.status_code == 303, r.text
        return session

    return login
