"""Login throttling slows attackers without locking users out (issue 23, class 5).

The test client plays the reverse proxy (IOC_API_TRUSTED_PROXIES=127.0.0.1) and generated
attackers come from many forwarded addresses or try many random names from one.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.api.conftest import World
from tests.console.conftest import log_in

LIMITS = {
    "cookie_secure": False,
    "login_rate_limit": "3/minute",
    "login_address_rate_limit": "6/minute",
    "login_user_rate_limit": "10/minute",
}


@pytest.fixture
def via_proxy(
    serve: Callable[..., httpx.Client], world: World, passwords: dict[str, str]
) -> Iterator[Callable[[str], httpx.Client]]:
    """A client per forwarded client address, through the trusted proxy (the test)."""
    base = serve(api={"trusted_proxies": "127.0.0.1"}, console=LIMITS)
    made: list[httpx.Client] = []

    def client(address: str) -> httpx.Client:
        made.append(
            httpx.Client(base_url=base.base_url, timeout=30, headers={"X-Forwarded-For": address})
        )
        return made[-1]

    yield client
    for c in made:
        c.close()


def _address(rng: random.Random) -> str:
    return f"203.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def test_guessing_one_name_from_many_addresses_never_locks_out_its_user(
    via_proxy: Callable[[str], httpx.Client],
) -> None:
    home = via_proxy("10.0.0.1")
    assert log_in(home, "tech_a").status_code == 303  # tech_a's usual place
    rng = random.Random(5)
    codes = []
    for _ in range(25):  # a botnet: each address a few guesses
        attacker = via_proxy(_address(rng))
        codes += [log_in(attacker, "tech_a", "guess").status_code for _ in range(rng.randint(1, 3))]
    assert codes.count(429) > 0, "the distributed guessing was never slowed"
    assert log_in(via_proxy("10.0.0.1"), "tech_a").status_code == 303  # never locked out
    assert log_in(via_proxy("198.51.100.7"), "tech_a").status_code == 429  # new place: slowed


def test_random_names_from_one_address_throttle_that_address_only(
    via_proxy: Callable[[str], httpx.Client], passwords: dict[str, str]
) -> None:
    rng = random.Random(11)
    attacker = via_proxy("192.0.2.66")
    codes = []
    for _ in range(20):
        name = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 12)))
        codes.append(log_in(attacker, name, "x" * rng.randint(1, 30)).status_code)
    assert codes[:6] == [401] * 6 and set(codes[6:]) == {429}
    for i, name in enumerate(sorted(passwords)):  # everyone else logs in, from their places
        assert log_in(via_proxy(f"10.1.0.{i + 1}"), name).status_code == 303, name


def test_a_user_at_a_known_address_outlasts_attackers_there_by_name(
    via_proxy: Callable[[str], httpx.Client],
) -> None:
    assert log_in(via_proxy("10.0.0.9"), "tech").status_code == 303
    rng = random.Random(3)
    shared = via_proxy("10.0.0.9")  # the same office NAT: random names fill the address's key
    for _ in range(10):
        name = "".join(rng.choice(string.ascii_lowercase) for _ in range(8))
        log_in(shared, name, "nope")
    assert log_in(via_proxy("10.0.0.99"), "tech").status_code == 303
    assert log_in(via_proxy("10.0.0.9"), "tech").status_code == 303


def test_forwarded_headers_from_untrusted_peers_are_ignored(
    serve: Callable[..., httpx.Client], world: World, passwords: dict[str, str]
) -> None:
    base = serve(console=LIMITS)  # no trusted proxies: the TCP peer is the address
    rng = random.Random(9)
    codes = []
    for _ in range(10):
        with httpx.Client(
            base_url=base.base_url, timeout=30, headers={"X-Forwarded-For": _address(rng)}
        ) as spoofing:
            name = "".join(rng.choice(string.ascii_lowercase) for _ in range(8))
            codes.append(log_in(spoofing, name, "nope").status_code)
    assert codes[:6] == [401] * 6 and set(codes[6:]) == {429}  # one address, forged or not
