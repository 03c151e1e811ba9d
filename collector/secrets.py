"""Secrets by name: resolved on the collector from its environment or a secrets file.

The inventory (and the central database) only ever holds names such as ``CAM_PASS``; values
live here, are never logged and never published. A secrets file is ``NAME=value`` lines
(``#`` comments) or a YAML mapping, readable only by the collector's user.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from collector.checks.base import CheckError


class SecretStore:
    """Looks a secret up in the environment first, then in the secrets file."""

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
        value = self._env.get(name)
        if value is None:
            value = self._file.get(name)
        if value is None:
            raise CheckError(f"secret {name!r} is not set on the collector", kind="config")
        return value

    def values(self) -> list[str]:
        """Every known secret value of the file (to keep them out of error texts)."""
        return [v for v in self._file.values() if v]
