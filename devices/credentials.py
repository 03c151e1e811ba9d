"""Per-device and per-service MQTT credentials: issue (shown once), rotate, revoke, list.

Only the ``$7$`` hash is stored (table ``mqtt_credentials``); the broker's password and ACL
files are rendered from the active rows by ``devices.mqtt_files``. Issuing is idempotent: a
login that already has a credential keeps it unless ``rotate`` is asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from devices.mqtt_files import SERVICE_USERS, Login, hash_secret, new_secret
from devices.nats_files import bcrypt_secret
from ioc.contract import TOPIC_ROOT, device_prefix
from ioc.errors import IocError

log = logging.getLogger(__name__)

LOCK = "SELECT pg_advisory_xact_lock(hashtext('ioc.mqtt_credentials'))"
SELECT_DEVICES = """
SELECT d.id, d.commune_code, d.decommissioned_at IS NOT NULL AS decommissioned,
       c.username IS NOT NULL AS known, c.revoked_at IS NULL AND c.username IS NOT NULL AS active
FROM devices d LEFT JOIN mqtt_credentials c ON c.device_id = d.id
WHERE (%(ids)s::text[] IS NULL OR d.id = ANY(%(ids)s))
  AND (%(commune)s::text IS NULL OR d.commune_code = %(commune)s)
ORDER BY d.id
"""
SELECT_SERVICE = "SELECT revoked_at IS NULL FROM mqtt_credentials WHERE username = %(username)s"
UPSERT = """
INSERT INTO mqtt_credentials (username, role, device_id, password_hash, bus_password_hash)
VALUES (%(username)s, %(role)s, %(device_id)s, %(hash)s, %(bus_hash)s)
ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash,
    bus_password_hash = excluded.bus_password_hash, issued_at = now(), revoked_at = NULL
"""
REVOKE = """
UPDATE mqtt_credentials SET revoked_at = now(), password_hash = NULL, bus_password_hash = NULL
WHERE username = %(username)s AND revoked_at IS NULL
RETURNING username
"""
SELECT_ACTIVE = """
SELECT c.username, c.role, c.password_hash, c.bus_password_hash, d.commune_code,
       coalesce((SELECT array_agg(o.commune_code || '/' || o.id ORDER BY o.id) FROM devices o
                 WHERE o.observed_by = c.device_id AND o.decommissioned_at IS NULL
                   AND o.commune_code = d.commune_code), '{}')  -- its own commune only
FROM mqtt_credentials c LEFT JOIN devices d ON d.id = c.device_id
WHERE c.revoked_at IS NULL AND (c.role <> 'device' OR d.decommissioned_at IS NULL)
ORDER BY c.username
"""
SELECT_ALL = """
SELECT c.username, c.role, d.commune_code, c.issued_at, c.revoked_at,
       d.decommissioned_at IS NOT NULL AS decommissioned
FROM mqtt_credentials c LEFT JOIN devices d ON d.id = c.device_id
ORDER BY c.role, c.username
"""


class CredentialError(IocError):
    """A credential request that names unknown or decommissioned devices."""


@dataclass(frozen=True)
class Issued:
    """A freshly issued secret: shown to the operator once, never stored in clear."""

    username: str
    password: str
    role: str
    commune_code: str | None = None

    @property
    def topic_prefix(self) -> str:
        """Where this login may publish (devices) or read (ingest)."""
        if self.role == "device":
            return device_prefix(str(self.commune_code), self.username)
        return TOPIC_ROOT + "/"


@dataclass
class IssueResult:
    """What an ``issue`` call did."""

    issued: list[Issued] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # already had a credential (no --rotate)
    skipped_revoked: list[str] = field(default_factory=list)  # revoked: only re-issued by name


@dataclass(frozen=True)
class CredentialRow:
    """A credential as listed (no secret, no hash)."""

    username: str
    role: str
    commune_code: str | None
    issued_at: datetime
    revoked_at: datetime | None
    decommissioned: bool


def issue_devices(
    conn: psycopg.Connection,
    device_ids: Sequence[str] | None = None,
    *,
    rotate: bool = False,
    commune: str | None = None,
) -> IssueResult:
    """Issue credentials to the named devices, or to every active device when none are named.

    Devices that have one keep it unless ``rotate``. Without names, revoked and decommissioned
    devices are left alone; naming a revoked device re-enables it with a new secret.
    """
    ids = list(device_ids) if device_ids else None
    result = IssueResult()
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(LOCK)
        cur.execute(SELECT_DEVICES, {"ids": ids, "commune": commune})
        rows = cur.fetchall()
        if ids is not None:
            _check_named(ids, rows)
        for device_id, commune_code, decommissioned, known, active in rows:
            if decommissioned:
                continue
            if active and not rotate:
                result.kept.append(device_id)
                continue
            if known and not active and ids is None:
                result.skipped_revoked.append(device_id)
                continue
            secret = new_secret()
            cur.execute(
                UPSERT,
                {
                    "username": device_id,
                    "role": "device",
                    "device_id": device_id,
                    "hash": hash_secret(secret),
                    "bus_hash": bcrypt_secret(secret),
                },
            )
            result.issued.append(Issued(device_id, secret, "device", commune_code))
    log.info(
        "MQTT credentials: %d issued, %d kept, %d revoked left alone",
        len(result.issued),
        len(result.kept),
        len(result.skipped_revoked),
    )
    return result


def _check_named(ids: list[str], rows: list[tuple]) -> None:
    found = {row[0]: row[2] for row in rows}
    errors = [f"unknown device {i!r}" for i in ids if i not in found]
    errors += [f"device {i!r} is decommissioned" for i in ids if found.get(i)]
    if errors:
        raise CredentialError("; ".join(errors))


def issue_service(conn: psycopg.Connection, service: str, *, rotate: bool = False) -> IssueResult:
    """Issue the credential of a service login (``ingest`` or ``simulator``)."""
    username = SERVICE_USERS[service]
    result = IssueResult()
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(LOCK)
        row = cur.execute(SELECT_SERVICE, {"username": username}).fetchone()
        if row is not None and row[0] and not rotate:
            result.kept.append(username)
            return result
        secret = new_secret()
        cur.execute(
            UPSERT,
            {
                "username": username,
                "role": service,
                "device_id": None,
                "hash": hash_secret(secret),
                "bus_hash": bcrypt_secret(secret),
            },
        )
        result.issued.append(Issued(username, secret, service))
    log.info("MQTT credential issued for service %s", username)
    return result


def revoke(conn: psycopg.Connection, username: str) -> bool:
    """Revoke a device's (or service's) credential; False when it had no active one."""
    with conn.transaction():
        row = conn.execute(REVOKE, {"username": username}).fetchone()
    if row:
        log.info("MQTT credential revoked for %s", username)
    return row is not None


def active_logins(conn: psycopg.Connection) -> list[Login]:
    """Logins the broker should accept: active credentials of in-service devices and services."""
    rows = conn.execute(SELECT_ACTIVE).fetchall()
    return [
        Login(
            username=u,
            role=r,
            password_hash=h,
            bus_password_hash=b,
            commune_code=c,
            observed=tuple(o),
        )
        for u, r, h, b, c, o in rows
    ]


def list_credentials(conn: psycopg.Connection) -> list[CredentialRow]:
    """Every credential row, active or revoked, without hashes."""
    return [CredentialRow(*row) for row in conn.execute(SELECT_ALL).fetchall()]
