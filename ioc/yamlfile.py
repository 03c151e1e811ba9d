"""The one YAML loader of the configuration files, with located errors.

Rules, notification routes, the device registry, the collector inventory and scenarios are
YAML validated by pydantic. ``parse`` reads the text and remembers the line of every node, so
a syntax error and each pydantic error can be reported as ``file:line: where: what`` (one line
per problem). Each caller wraps the problems in its own error type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from ioc.errors import ConfigError

Loc = tuple[Any, ...]


class YamlFileError(ConfigError):
    """The text is not YAML; ``problem`` is one ``file:line: invalid YAML: ...`` line."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class Document:
    """A parsed file: its data and the 1-based line of each node by its path."""

    source: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line(self, loc: Loc, depth: int | None = None) -> int | None:
        """The line of ``loc``, or of its nearest located parent (looking at most ``depth``
        parts deep: 2 = the item of a top-level list)."""
        loc = tuple(loc)[:depth] if depth is not None else tuple(loc)
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.lines:
                return self.lines[loc[:n]]
        return None

    def problems(
        self, exc: ValidationError, *, depth: int | None = None, bare: bool = False
    ) -> list[str]:
        """One ``file:line: path: message`` line per pydantic error (``bare`` drops
        pydantic's "Value error, " prefix)."""
        out = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            msg = str(err["msg"])
            if bare:
                loc = _plain(loc)
                msg = msg.removeprefix("Value error, ")
            out.append(f"{self.source}:{self.line(loc, depth) or 1}: {path(loc) or '(top)'}: {msg}")
        return out


def parse(text: str, source: str) -> Document:
    """Parse ``text`` (named ``source`` in messages); ``YamlFileError`` when it is not YAML."""
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise YamlFileError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    except RecursionError:
        raise YamlFileError(f"{source}: the document is nested too deeply") from None
    lines: dict[Loc, int] = {}
    if root is not None:
        _lines(root, (), lines)
    return Document(source, data, lines)


def path(loc: Loc) -> str:
    """``devices[1].checks.ping`` for the location ``("devices", 1, "checks", "ping")``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _plain(loc: Loc) -> Loc:
    """Without pydantic's validator steps (``function-after[...]``)."""
    return tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))


def _lines(node: yaml.Node, at: Loc, out: dict[Loc, int], seen: set[int] | None = None) -> None:
    # An alias is the same node again: walk it once (a "billion laughs" stays linear).
    seen = set() if seen is None else seen
    out[at] = node.start_mark.line + 1
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[(*at, key.value)] = key.start_mark.line + 1
            _lines(value, (*at, key.value), out, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*at, i), out, seen)
