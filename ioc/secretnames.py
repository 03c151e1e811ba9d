"""Names of device secrets (``password_env: CAM_PASS``): which names a collector resolves.

A collector resolves a secret name from its secrets file (``IOC_COLLECTOR_SECRETS_FILE``) and,
for names starting with :data:`ENV_PREFIX` only, from its environment. It never resolves its
own settings (``IOC_MQTT_URL``, ``IOC_COLLECTOR_TOKEN``, any other ``IOC_*``) nor arbitrary
environment variables (``HOME``, ``AWS_SECRET_ACCESS_KEY``): an inventory written by someone
else must not be able to send those to a URL of its choosing. The registry import refuses the
names a collector would refuse, with the same words (one rule, here).
"""

from __future__ import annotations

import re

ENV_PREFIX = "IOC_SECRET_"
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def name_problem(name: object) -> str | None:
    """Why a collector would never resolve the secret ``name``, or None when it may."""
    if not isinstance(name, str) or not NAME.match(name):
        return (
            f"secret name {str(name)[:40]!r} is not a name (letters, digits and _, "
            "at most 64, not starting with a digit)"
        )
    if name.upper().startswith("IOC_") and not name.upper().startswith(ENV_PREFIX):
        return (
            f"secret name {name!r} names a setting of the IOC processes; device secrets are "
            f"named freely in the collector's secrets file, or {ENV_PREFIX}* in its environment"
        )
    return None


def secret_name_fields(params: object, path: str = "") -> list[tuple[str, object]]:
    """Every ``(dotted key, value)`` of a ``*_env`` field in a check's parameters."""
    found: list[tuple[str, object]] = []
    if isinstance(params, dict):
        for key, value in params.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and key.endswith("_env") and value is not None:
                found.append((where, value))
            else:
                found += secret_name_fields(value, where)
    elif isinstance(params, list):
        for i, value in enumerate(params):
            found += secret_name_fields(value, f"{path}[{i}]")
    return found
