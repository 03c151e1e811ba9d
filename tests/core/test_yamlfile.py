"""The one YAML loader: syntax and validation errors are reported as file:line."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from ioc import yamlfile


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    count: int = 0


class File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[Item]


TEXT = "# a comment\nitems:\n  - name: a\n  - name: b\n    count: many\n"


def _problems(text: str, depth: int | None = None) -> list[str]:
    doc = yamlfile.parse(text, "f.yaml")
    with pytest.raises(ValidationError) as err:
        File.model_validate(doc.data)
    return doc.problems(err.value, depth=depth)


def test_a_syntax_error_names_the_line() -> None:
    with pytest.raises(yamlfile.YamlFileError) as err:
        yamlfile.parse("items:\n  - [\n", "f.yaml")
    assert err.value.problem.startswith("f.yaml:3: invalid YAML")
    assert "\n" not in err.value.problem


def test_a_field_error_names_the_field_line_or_the_item_line() -> None:
    assert _problems(TEXT) == [
        "f.yaml:5: items[1].count: Input should be a valid integer, unable to parse string "
        "as an integer"
    ]
    assert _problems(TEXT, depth=2)[0].startswith("f.yaml:4: items[1].count:")


def test_a_missing_key_points_at_its_parent() -> None:
    assert _problems("items:\n  - count: 1\n") == ["f.yaml:2: items[0].name: Field required"]


def test_aliases_are_walked_once() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):  # 10**12 leaves if every alias were walked again
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}' if i > 1 else '*a'] * 10)}]")
    located = yamlfile.parse("\n".join(lines) + "\n", "bomb.yaml").lines
    assert located[("l11",)] == 12 and len(located) < 200
