"""Label matchers, ``label op value``: the one type for silences, notify routes and the API.

``=`` and ``!=`` compare whole values; ``=~`` and ``!~`` match whole values against a regular
expression run by RE2 (google-re2), whose matching time is linear in the input: a technician's
``(a+)+$`` cannot stall alert evaluation. RE2 has no backreferences or look-around; such patterns
are refused when the matcher is built. A missing label is the empty string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import re2
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

Op = Literal["=", "!=", "=~", "!~"]
MAX_VALUE = 200
# RE2 compiles into a bounded automaton; 1 MiB is plenty for a 200-character pattern.
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.max_mem = 1 << 20
# ``label op value`` or ``label op "value"``, as written in the routes file.
_TEXT = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')


def compile_regex(pattern: str) -> Any:
    """The RE2 program of ``pattern``; ValueError when RE2 refuses it."""
    if len(pattern) > MAX_VALUE:
        raise ValueError(f"regular expression longer than {MAX_VALUE} characters")
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise ValueError(
            f"invalid regular expression {pattern!r}: {reason} (RE2 syntax: no backreferences "
            "or look-around)"
        ) from None


class Matcher(BaseModel):
    """``label op value`` with op ``=``, ``!=``, ``=~`` or ``!~`` (whole-value RE2 regex)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(min_length=1, max_length=64)
    op: Op = Field("=", description="=~ and !~ match whole values (RE2 syntax).")
    value: str = Field(max_length=MAX_VALUE)
    _regex: Any = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        if isinstance(data, str):
            match = _TEXT.match(data)
            if not match:
                raise ValueError(f'matcher {data!r} is not like severity="critical"')
            return {"label": match.group(1), "op": match.group(2), "value": match.group(3)}
        return data

    @model_validator(mode="after")
    def _compile(self) -> Matcher:
        if self.op in ("=~", "!~"):
            self._regex = compile_regex(self.value)
        return self

    @property
    def is_regex(self) -> bool:
        """Whether this matcher runs a regular expression."""
        return self.op in ("=~", "!~")

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether the label set satisfies this matcher."""
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = self._regex.fullmatch(actual) is not None
        return found if self.op == "=~" else not found


def cheap_first(matchers: Iterable[Matcher]) -> list[Matcher]:
    """The matchers with equality tests before regular expressions (same result, less work)."""
    return sorted(matchers, key=lambda m: m.is_regex)


def match_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    """All matchers hold; pass them through ``cheap_first`` once to test equality first."""
    return all(m.matches(labels) for m in matchers)
