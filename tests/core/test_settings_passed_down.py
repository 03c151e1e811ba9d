"""Settings are built at entry points (command lines, the demo, bench scripts) and passed down."""

from __future__ import annotations

import ast
from pathlib import Path

from ioc.settings import Settings
from storage.jobs import resolve
from tests.storage.conftest import storage_setup

ROOT = Path(__file__).resolve().parents[2]
# Entry points: every package's cli.py, the demo's run(), the bench scripts.
ENTRY_FILES = {"cli.py"}
ENTRY_FUNCTIONS = {("demo/runner.py", "run")}
SKIP_DIRS = {"tests", "bench", "docs", ".venv", "build", "node_modules"}


def _sources() -> list[Path]:
    return [
        p
        for p in ROOT.rglob("*.py")
        if not SKIP_DIRS & set(p.relative_to(ROOT).parts) and not p.name.startswith(".")
    ]


def _settings_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """Names of every BaseSettings subclass (directly or through another settings class)."""
    names = {"BaseSettings"}
    grew = True
    while grew:
        grew = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names:
                    bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
                    if bases & names:
                        names.add(node.name)
                        grew = True
    names.discard("BaseSettings")
    return names


def _constructions(tree: ast.Module, classes: set[str]) -> list[tuple[int, str, str | None]]:
    """(line, class, enclosing top-level function) of each settings construction."""
    found: list[tuple[int, str, str | None]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = function
            if function is None and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = child.name
            if isinstance(child, ast.Call):
                func = child.func
                name = func.id if isinstance(func, ast.Name) else None
                if name in classes:
                    found.append((child.lineno, name, function))
            visit(child, inner)

    visit(tree, None)
    return found


def test_no_settings_class_is_constructed_outside_an_entry_point() -> None:
    trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in _sources()}
    classes = _settings_classes(trees)
    assert {"Settings", "ApiSettings", "ConsoleSettings", "RetentionSettings"} <= classes
    assert {"NotifySettings", "SmtpSettings", "TelegramSettings", "ZaloSettings"} <= classes
    offenders = []
    for path, tree in trees.items():
        rel = path.relative_to(ROOT).as_posix()
        if path.name in ENTRY_FILES:
            continue
        for line, name, function in _constructions(tree, classes):
            if (rel, function) not in ENTRY_FUNCTIONS:
                offenders.append(f"{rel}:{line}: {name}() in {function or 'module'}")
    assert not offenders, "build settings in main() and pass them down:\n" + "\n".join(offenders)


def test_no_code_writes_the_environment_for_inner_constructors() -> None:
    offenders = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            target = node.targets[0] if isinstance(node, ast.Assign) else None
            if (
                isinstance(target, ast.Subscript)
                and isinstance(target.value, ast.Attribute)
                and target.value.attr == "environ"
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders


def test_api_report_settings_resolve_the_core_raw_retention() -> None:
    """The availability report sees IOC_RAW_RETENTION_DAYS (it used to fall back to 30)."""
    core = Settings(_env_file=None, raw_retention_days=7)  # type: ignore[call-arg]
    storage = resolve(core, storage_setup())
    assert storage.raw_days == 7
