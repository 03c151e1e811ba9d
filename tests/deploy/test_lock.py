"""requirements.lock / requirements-dev.lock pin every dependency pyproject.toml names, at a
version its range allows, with hashes. After changing dependencies regenerate both:

    pip-compile --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
        --no-emit-find-links -o requirements.lock pyproject.toml
    pip-compile ... --extra dev --extra embedded --extra ha -o requirements-dev.lock pyproject.toml
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", re.M)


def _pins(name: str) -> dict[str, str]:
    text = (REPO / name).read_text()
    pins = {canonicalize_name(n): v for n, v in PIN.findall(text)}
    blocks = re.split(r"\n(?=\S)", text)
    for block in blocks:
        if PIN.match(block):
            assert "--hash=sha256:" in block, f"{name}: no hash for {block.split()[0]}"
    return pins


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("requirements.lock", []), ("requirements-dev.lock", ["dev", "embedded"])],
)
def test_every_dependency_is_pinned_within_its_range(lock: str, extras: list[str]) -> None:
    pins = _pins(lock)
    wanted = list(PROJECT["dependencies"])
    for extra in extras:
        wanted += PROJECT["optional-dependencies"][extra]
    for spec in wanted:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"{lock}: {req.name} is not pinned; regenerate (module docstring)"
        assert req.specifier.contains(pins[name], prereleases=True), (lock, spec, pins[name])
