"""What the README's install gives: report formats work, and a missing library is one line."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from ioc.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_report_libraries_are_main_dependencies() -> None:
    """`pip install -e '.[embedded]'` (the README's install) brings xlsx and pdf rendering."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {
        dep.split(">")[0].split("=")[0].split("[")[0].strip() for dep in project["dependencies"]
    }
    assert {"openpyxl", "fpdf2"} <= names


@pytest.mark.parametrize(("fmt", "module", "package"), [("xlsx", "openpyxl", "openpyxl"),
                                                        ("pdf", "fpdf", "fpdf2")])  # fmt: skip
def test_missing_report_library_is_one_line(
    monkeypatch: pytest.MonkeyPatch, fmt: str, module: str, package: str
) -> None:
    from storage import render

    monkeypatch.setitem(sys.modules, module, None)  # import fails like an absent package
    renderer = render.to_xlsx if fmt == "xlsx" else render.to_pdf
    with pytest.raises(ConfigError) as err:
        renderer(None)  # type: ignore[arg-type]  # fails before the report is read
    message = str(err.value)
    assert "\n" not in message
    assert f"--format {fmt}" in message and f"pip install {package}" in message
