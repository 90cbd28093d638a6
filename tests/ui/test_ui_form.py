"""The page's data without a browser: the file as the page shows it, the form back to settings."""

from __future__ import annotations

from typing import Any

import pytest

from langchain_hf_spaces import SpaceConfig, SpacesSettings
from langchain_hf_spaces.cli._ui._form import apply_form, page_state
from langchain_hf_spaces.errors import SpaceConfigError
from tests.conftest import PLANTED_TOKEN


def _card(
    name: str, token_new: str = "", token_clear: bool = False, **values: str
) -> dict[str, Any]:
    return {"name": name, "values": values, "token_new": token_new, "token_clear": token_clear}


def test_the_guides_four_tiers_are_always_on_the_page_and_custom_ones_follow() -> None:
    state = page_state({"version": 1, "tiers": {"research": {"url": "acme/research"}}})
    assert [t["name"] for t in state["tiers"]] == [
        "base",
        "company",
        "abstraction",
        "user",
        "research",
    ]
    research = state["tiers"][-1]
    assert research["guide"] is False
    assert research["normalised"] == "https://acme-research.hf.space"
    assert state["tiers"][0]["values"]["url"] == ""


def test_an_old_file_is_shown_migrated() -> None:
    state = page_state({"base": {"url": "acme/base-llm"}})  # version 0: tiers at the top level
    assert state["migrated"] is True
    assert state["tiers"][0]["values"]["url"] == "acme/base-llm"


def test_empty_cards_are_no_tiers_and_defaults_are_not_written() -> None:
    form = {
        "default_tier": "base",
        "tiers": [
            _card("base", url="acme/base-llm", protocol="generate", endpoint="/api/generate"),
            _card("company", protocol="generate"),  # a select shows its default: still empty
        ],
    }
    result = apply_form(None, form)
    assert result.errors == {}
    assert result.data is not None
    assert list(result.data["tiers"]) == ["base"]
    assert result.settings == SpacesSettings(tiers={"base": SpaceConfig(url="acme/base-llm")})


def test_fields_the_page_does_not_show_and_the_stored_token_are_kept() -> None:
    raw = {
        "version": 1,
        "tiers": {
            "base": {"url": "http://127.0.0.1:9", "max_response_bytes": 999, "token": PLANTED_TOKEN}
        },
    }
    result = apply_form(raw, {"tiers": [_card("base", url="http://127.0.0.1:9", revision="r1")]})
    assert result.data is not None
    base = result.data["tiers"]["base"]
    assert base["max_response_bytes"] == 999 and base["token"] == PLANTED_TOKEN
    assert base["revision"] == "r1"
    cleared = apply_form(
        raw, {"tiers": [_card("base", url="http://127.0.0.1:9", token_clear=True)]}
    )
    assert cleared.data is not None and "token" not in cleared.data["tiers"]["base"]
    replaced = apply_form(
        raw, {"tiers": [_card("base", url="http://127.0.0.1:9", token_new="hf_new")]}
    )
    assert replaced.data is not None and replaced.data["tiers"]["base"]["token"] == "hf_new"


def test_each_error_is_on_its_field_in_the_models_words() -> None:
    form = {
        "default_tier": "base",
        "tiers": [
            _card("base", url="not a url", endpoint="/a b", max_retries="99", protocol="soap"),
            _card("company", url="acme/one", space_id="acme/two"),
            _card("user", token_env="1BAD"),
        ],
    }
    errors = apply_form(None, form).errors
    for field, kwargs in [
        ("url", {"url": "not a url"}),
        ("endpoint", {"endpoint": "/a b"}),
        ("max_retries", {"max_retries": "99"}),
        ("protocol", {"protocol": "soap"}),
    ]:
        with pytest.raises(SpaceConfigError) as exc:
            SpaceConfig(**{"url": "http://127.0.0.1", **kwargs})
        assert errors[f"tiers.base.{field}"] == exc.value.message
    assert "acme/one" in errors["tiers.company.space_id"]
    assert errors["tiers.user.url"] == "a Space URL is required"
    assert "name of an environment variable" in errors["tiers.user.token_env"]


def test_a_default_tier_that_is_not_configured_is_an_error_on_that_field() -> None:
    result = apply_form(None, {"default_tier": "user", "tiers": [_card("base", url="a/b")]})
    assert "default_tier 'user' is not configured" in result.errors["default_tier"]
    assert result.data is None


def test_a_bad_tier_name_is_refused() -> None:
    result = apply_form(None, {"tiers": [_card("Bad Name", url="a/b")]})
    assert "tier name 'Bad Name' is invalid" in result.errors["tiers.Bad Name.name"]
