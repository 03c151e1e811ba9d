"""The collector's import graph: no circle, and no product module imports a simulator or a test.

Every import counts, also those inside functions and under ``TYPE_CHECKING``: a circle hidden
behind a late import is still one.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "collector"


def modules() -> dict[str, Path]:
    """Module name -> file, for every module of the package."""
    out: dict[str, Path] = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module ``name`` imports (absolute names; ``from a import b`` is a.b if a module)."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + is_package]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                out.add(full if full in known else base)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imported(name, path, known) for name, path in mods.items()}


def test_the_walk_sees_the_package() -> None:
    g = graph()
    assert "collector.service" in g and "collector.scheduler" in g["collector.service"]
    assert "collector.checks.base" in g["collector.scheduler"]


def test_no_import_circle_in_the_collector() -> None:
    g = graph()
    inner = {name: {m for m in deps if m in g and m != name} for name, deps in g.items()}
    try:
        graphlib.TopologicalSorter(inner).prepare()
    except graphlib.CycleError as exc:
        raise AssertionError(f"import circle: {' -> '.join(exc.args[1])}") from None


def test_a_circle_is_found() -> None:
    circle = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    try:
        graphlib.TopologicalSorter(circle).prepare()
    except graphlib.CycleError:
        return
    raise AssertionError("graphlib missed a circle")


def test_no_product_module_imports_a_fake() -> None:
    bad = {
        f"{name} imports {dep}"
        for name, deps in graph().items()
        for dep in deps
        if dep.split(".")[0] in ("simulators", "tests", "demo") or ".fakes" in dep
    }
    assert not bad, sorted(bad)


def test_protocol_clients_know_nothing_of_checks() -> None:
    bad = {
        f"{name} imports {dep}"
        for name, deps in graph().items()
        if name.startswith("collector.protocols")
        for dep in deps
        if dep.startswith("collector.") and not dep.startswith("collector.protocols")
    }
    assert not bad, sorted(bad)
