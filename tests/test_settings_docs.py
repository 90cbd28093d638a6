"""docs/configuration.md cannot drift from the settings models.

Its variable table lists exactly the variables the loader reads (one per ``SpaceConfig`` field,
plus the top-level ones), and its field table lists every field with its real default.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic_core import PydanticUndefined

from langchain_hf_spaces import SpaceConfig
from langchain_hf_spaces._loading import OTHER_ENV
from langchain_hf_spaces.config import _schema

PAGE = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
REQUIRED = object()


def table(heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first table under ``## heading``."""
    text = PAGE.read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert len(rows) > 2, f"no table under {heading!r}"
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def _code(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def test_the_variable_table_lists_every_field_and_nothing_else() -> None:
    variables = [_code(row[0])[0] for row in table("Environment variables")]
    per_tier = {v.removeprefix("HF_SPACES_<TIER>_") for v in variables if "<TIER>" in v}
    assert per_tier == {field.upper() for field in SpaceConfig.model_fields}
    top = {v for v in variables if "<TIER>" not in v}
    assert top == set(_schema().env_settings) | OTHER_ENV | {"HF_TOKEN"}
    assert len(variables) == len(set(variables))


def _value(text: str) -> Any:
    text = text.strip().strip("`")
    if text == "(required)":
        return REQUIRED
    if text == "unset":
        return None
    if text == "none":  # an empty list
        return ()
    if text in ("true", "false"):
        return text == "true"
    if m := re.fullmatch(r"(\d+) MiB", text):
        return int(m.group(1)) * 1024 * 1024
    if re.fullmatch(r"[\d ]+(\.\d+)?", text):
        return float(text.replace(" ", ""))
    return text


def _documented_defaults() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for row in table("Every field of a Space"):
        names, defaults = _code(row[0]), row[1].split(",")
        assert len(names) == len(defaults), row
        out.update(zip(names, map(_value, defaults), strict=True))
    return out


def test_the_field_table_lists_every_field() -> None:
    documented = list(_documented_defaults())
    assert sorted(documented) == sorted(SpaceConfig.model_fields)
    assert len(documented) == len(set(documented))


@pytest.mark.parametrize("field", list(SpaceConfig.model_fields))
def test_the_field_table_shows_the_real_default(field: str) -> None:
    default = SpaceConfig.model_fields[field].default
    expected = REQUIRED if default is PydanticUndefined else default
    shown = _documented_defaults()[field]
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        assert isinstance(shown, (int, float)), (field, shown)
        assert float(shown) == float(expected), field
    else:
        assert shown == expected, field
