"""Login throttling that slows an attacker without locking out the user.

Only failed logins count, under three keys:

- (user name, address): a user typing a wrong password, or someone guessing it from one place;
- address: one place trying many names (random names throttle that address, never everyone);
- user name: many places guessing one user's password. A user is never throttled by this key
  at an address they logged in from before (``ioc_auth.login_addresses``), and an address's
  own key does not count against a user who logged in from it before either: failures from
  elsewhere cannot lock a user out of their usual place.

The address is the TCP peer, or behind a reverse proxy the forwarded address when the proxy
is in ``IOC_API_TRUSTED_PROXIES`` (uvicorn's ``forwarded_allow_ips``), never a header from
anyone else.
"""

from __future__ import annotations

import psycopg

from ioc.ratelimit import RateLimiter

KNOWN = """
SELECT EXISTS (
    SELECT 1 FROM ioc_auth.login_addresses a JOIN ioc_auth.users u ON u.id = a.user_id
    WHERE u.name = %(name)s AND u.revoked_at IS NULL AND a.address = %(address)s
      AND a.last_login_at > now() - make_interval(days => %(days)s))
"""
REMEMBER = """
INSERT INTO ioc_auth.login_addresses (user_id, address) VALUES (%(user_id)s, %(address)s)
ON CONFLICT (user_id, address) DO UPDATE SET last_login_at = now()
"""


class LoginThrottle:
    """The three failure counters of console logins and the addresses users logged in from."""

    def __init__(
        self,
        per_user_address: str,
        per_address: str,
        per_user: str,
        storage_uri: str = "memory://",
        known_days: int = 90,
    ) -> None:
        self.user_address = RateLimiter(per_user_address, storage_uri, "login-user-address")
        self.address = RateLimiter(per_address, storage_uri, "login-address")
        self.user = RateLimiter(per_user, storage_uri, "login-user")
        self.known_days = known_days

    def _known(self, conn: psycopg.Connection, name: str, address: str) -> bool:
        row = conn.execute(
            KNOWN, {"name": name, "address": address, "days": self.known_days}
        ).fetchone()
        return bool(row and row[0])

    def wait(self, conn: psycopg.Connection, name: str, address: str) -> int | None:
        """Seconds this attempt must wait (429), or None: it may try its password."""
        key = name.lower()
        waits = [self.user_address.test(f"{key}|{address}")]
        if not self._known(conn, name, address):
            waits += [self.address.test(address), self.user.test(key)]
        return max((w for w in waits if w), default=None)

    def failed(self, name: str, address: str) -> None:
        """Count a failed attempt under all three keys."""
        key = name.lower()
        self.user_address.hit(f"{key}|{address}")
        self.address.hit(address)
        self.user.hit(key)

    def succeeded(self, conn: psycopg.Connection, user_id: int, name: str, address: str) -> None:
        """Remember the address for this user; their own failures from it are forgiven."""
        conn.execute(REMEMBER, {"user_id": user_id, "address": address})
        self.user_address.clear(f"{name.lower()}|{address}")
