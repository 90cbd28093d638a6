"""Writing the settings file: ``dumps_toml`` (tomli-w under our header) and what ``init`` writes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from langchain_hf_spaces import SpacesSettings
from langchain_hf_spaces.cli import dumps_toml, main

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

_keys = st.text(min_size=1, max_size=12)
_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
_values = st.one_of(_scalars, st.lists(st.text(max_size=10), max_size=4))
_tables = st.dictionaries(_keys, _values, max_size=5)


@given(
    st.dictionaries(_keys, _values, max_size=4),
    st.dictionaries(_keys, st.dictionaries(_keys, _tables, max_size=3), max_size=3),
)
def test_dumps_toml_round_trips_settings_shaped_dicts(
    top: dict[str, Any], tables: dict[str, Any]
) -> None:
    data = {**top, **{f"t{i}": t for i, t in enumerate(tables.values())}}
    assert tomllib.loads(dumps_toml(data, header="a header")) == data


def test_dumps_toml_puts_the_header_first_and_leaves_none_out() -> None:
    text = dumps_toml(
        {"version": 1, "skip": None, "tiers": {"base": {"url": "u", "token": None}}},
        header="First line.\n\nThird line.",
    )
    assert text.startswith("# First line.\n#\n# Third line.\nversion = 1\n")
    assert tomllib.loads(text) == {"version": 1, "tiers": {"base": {"url": "u"}}}
    only_tables = dumps_toml({"tiers": {"base": {"url": "u"}}}, header="h")
    assert only_tables == '# h\n\n[tiers.base]\nurl = "u"\n'


def test_init_writes_the_header_then_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith(("HF_SPACES_", "HF_TOKEN")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    url = "https://acme-base-llm.hf.space"
    assert main(["init", "-y", "--url", url, "--revision", 'v"2\\']) == 0
    text = (tmp_path / "hf-spaces.toml").read_text(encoding="utf-8")
    comments, rest = text.split("version = 1\n", 1)
    assert comments.startswith("# Settings for langchain-hf-spaces, written by `hf-spaces init`.")
    assert all(line.startswith("#") for line in comments.splitlines())
    assert rest.startswith('enabled = true\ndefault_tier = "base"\n\n[tiers.base]\n')
    assert SpacesSettings.from_toml(tmp_path / "hf-spaces.toml").tiers["base"].revision == 'v"2\\'

    monkeypatch.setenv("HF_TOKEN", "hf_stored0123456789")
    assert main(["init", "-y", "--force", "--url", url, "--store-token"]) == 0
    text = (tmp_path / "hf-spaces.toml").read_text(encoding="utf-8")
    assert text.startswith("# Settings for langchain-hf-spaces, written by `hf-spaces init --")
    assert "# This file holds tokens" in text and 'token = "hf_stored0123456789"' in text
    assert "hf_stored0123456789" not in capsys.readouterr().out
