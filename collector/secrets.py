"""Secrets by name: resolved on the collector from its secrets file (or ``IOC_SECRET_*``).

The inventory (and the central database) only ever holds names such as ``CAM_PASS``; values
live here, are never logged and never published. A secrets file is ``NAME=value`` lines
(``#`` comments) or a YAML mapping, readable only by the collector's user. The environment is
consulted only for names starting with ``IOC_SECRET_``: never the collector's own settings
(``IOC_MQTT_URL``, ``IOC_COLLECTOR_TOKEN``) nor any other variable (:mod:`ioc.secretnames`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from collector.checks.base import CheckError
from ioc.secretnames import ENV_PREFIX, name_problem


class SecretStore:
    """Looks a secret up in the secrets file, or in the environment for ``IOC_SECRET_*``."""

    def __init__(
        self, file_values: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None
    ) -> None:
        self._file = dict(file_values or {})
        self._env = os.environ if environ is None else environ

    @classmethod
    def load(cls, path: Path | None) -> SecretStore:
        """Read the optional secrets file."""
        if path is None:
            return cls()
        text = path.read_text(encoding="utf-8")
        values: dict[str, str] = {}
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            doc = None
        if isinstance(doc, dict):
            values = {str(k): str(v) for k, v in doc.items()}
        else:
            for line in text.splitlines():
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    key, _, value = line.partition("=")
                    values[key.strip()] = value.strip()
        return cls(values)

    def __call__(self, name: str) -> str:
        problem = name_problem(name)
        if problem:
            raise CheckError(problem, kind="config")
        value = self._file.get(name)
        env_ok = name.startswith(ENV_PREFIX)
        if value is None and env_ok:
            value = self._env.get(name)
        if value is None:
            where = "its secrets file" + (f" or {name} in its environment" * env_ok)
            raise CheckError(
                f"secret {name!r} is not set on the collector ({where})", kind="config"
            )
        return value

    def values(self) -> list[str]:
        """Every secret value it may hand out (to keep them out of error texts)."""
        env = [v for k, v in self._env.items() if k.startswith(ENV_PREFIX)]
        return [v for v in [*self._file.values(), *env] if v]
