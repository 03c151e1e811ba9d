"""The documentation stays true to the product: generated configuration, commands that exist."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import click
import pytest

from ioc.cli import LAZY_COMMANDS, cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs" / "vi").glob("*.md"))]
QUICK_START = (
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[embedded]' && ioc demo",
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[dev,embedded]' "
    "&& python -m pytest",
)
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
IOC_CALL = re.compile(r"(?:^|[\s;&|(/])ioc((?:\s+[a-z][a-z0-9-]*)+)", re.M)


def _load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_config", ROOT / "docs" / "gen_config.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _calls(path: Path) -> list[list[str]]:
    """Every `ioc word word ...` written in the file's fenced code blocks."""
    found = []
    for block in FENCE.findall(path.read_text(encoding="utf-8")):
        for match in IOC_CALL.finditer(block):
            found.append(match.group(1).split())
    return found


def test_configuration_reference_is_current() -> None:
    expected = _load_generator().render()
    actual = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert actual == expected, (
        "docs/configuration.md is out of date: "
        "run `python docs/gen_config.py > docs/configuration.md`"
    )


def test_configuration_reference_lists_every_setting() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for name in ("IOC_DATABASE_URL", "IOC_MQTT_URL", "IOC_INGEST_BATCH_SIZE", "IOC_API_PORT"):
        assert f"`{name}`" in text


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head = text[: text.index("\n## ", text.index(QUICK_START[1]))]
    for command in QUICK_START:
        assert command in head, f"README quick start must contain: {command}"
    assert text.index(QUICK_START[0]) < 2000


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_documented_ioc_commands_exist(path: Path) -> None:
    calls = _calls(path)
    assert calls or path.name != "README.md", "README shows no ioc command at all"
    ctx = click.Context(cli)
    for words in calls:
        assert words[0] in LAZY_COMMANDS, f"{path.name}: `ioc {words[0]}` is not a command"
        command = cli.get_command(ctx, words[0])
        assert command is not None and "unavailable" not in (command.help or ""), words
        if isinstance(command, click.Group) and len(words) > 1:
            sub = command.get_command(ctx, words[1])
            assert sub is not None, f"{path.name}: `ioc {words[0]} {words[1]}` does not exist"


def test_scanner_finds_commands(tmp_path: Path) -> None:
    sample = tmp_path / "x.md"
    sample.write_text("text ioc nothing\n```sh\n.venv/bin/ioc devices import f.yaml\n```\n")
    assert [words[:2] for words in _calls(sample)] == [["devices", "import"]]


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize(
    "path",
    [*DOCS, ROOT / "docs" / "troubleshooting.md"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_relative_links_resolve(path: Path) -> None:
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (path.parent / target).exists(), f"{path.name}: broken link {target}"


def _yaml_blocks(path: Path) -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```", path.read_text(encoding="utf-8"), re.M | re.S)


def test_readme_yaml_examples_load(tmp_path: Path) -> None:
    from alerts.notify.config import load_config
    from alerts.rules import load_rules
    from devices.registry import load_file

    blocks = _yaml_blocks(ROOT / "README.md")
    by_kind = {key: b for b in blocks for key in ("communes:", "rules:", "receivers:") if key in b}
    assert set(by_kind) == {"communes:", "rules:", "receivers:"}, "README lost a YAML example"
    for key, text in by_kind.items():
        sample = tmp_path / f"{key.rstrip(':')}.yaml"
        sample.write_text(text, encoding="utf-8")
        if key == "communes:":
            assert load_file(sample).devices
        elif key == "rules:":
            assert load_rules(sample)
        else:
            assert load_config(sample).receivers
