"""Structured generation (the guide's ``generateStructure``): extraction, re-asking, errors."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_hf_spaces import (
    SchemaError,
    SpaceConfig,
    SpacesClient,
    SpacesSettings,
    StructuredOutputError,
)
from langchain_hf_spaces._structured import (
    StructuredParseError,
    extract_json,
    parse_structured,
)
from langchain_hf_spaces.schema import schema_to_model
from langchain_hf_spaces.testing import scripted_responder

GUIDE = {"title": "string", "description": "string", "pros": "string[]", "cons": "string[]"}
IDEA = {"title": "Smart garden", "description": "Waters itself", "pros": ["easy"], "cons": ["$"]}


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(IDEA),
        f"Here you go:\n```json\n{json.dumps(IDEA, indent=2)}\n```\nEnjoy!",
        f"```\n{json.dumps(IDEA)}\n```",
        f"Sure! The idea is {json.dumps(IDEA)} -- hope that helps.",
        f"Thinking [step 1] ... {json.dumps(IDEA)}",
    ],
)
def test_extraction_tolerates_fences_and_prose(text: str) -> None:
    assert extract_json(text) == IDEA


def test_a_list_where_one_object_was_asked_is_rejected() -> None:
    with pytest.raises(StructuredParseError, match="JSON list, but one JSON object") as info:
        parse_structured(json.dumps([IDEA, IDEA]), schema_to_model(GUIDE))
    assert info.value.raw.startswith("[")


def test_validation_errors_name_the_fields() -> None:
    with pytest.raises(StructuredParseError, match="pros: Input should be a valid list"):
        parse_structured(json.dumps({**IDEA, "pros": "easy"}), schema_to_model(GUIDE))


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_extraction_never_raises_anything_else(text: str) -> None:
    with contextlib.suppress(StructuredParseError):
        parse_structured(text, schema_to_model({"a": "string?"}))


def _client(url: str) -> SpacesClient:
    return SpacesClient(SpacesSettings(tiers={"base": SpaceConfig(url=url, max_retries=0)}))


@pytest.mark.vcr
def test_valid_first_time(recording_url: Callable[..., Any]) -> None:
    answer = "Sure!\n```json\n" + json.dumps(IDEA) + "\n```"
    with recording_url(responder=scripted_responder([answer])) as (url, space):
        result = _client(url).generate_structure(
            "Create a product idea for a smart garden device", GUIDE
        )
        if space is not None:
            assert len(space.requests) == 1
    assert result.title == "Smart garden"
    assert result.pros == ["easy"]


@pytest.mark.vcr
def test_valid_after_one_reask(recording_url: Callable[..., Any]) -> None:
    first = json.dumps({"title": "Garden", "pros": "cheap"})
    with recording_url(responder=scripted_responder([first, json.dumps(IDEA)])) as (url, space):
        result = _client(url).generate_structure("Create a product idea", GUIDE)
        if space is not None:
            reask = space.requests[1].json["inputs"]
            assert "Your previous answer was:" in reask and first in reask
            assert "pros: Input should be a valid list" in reask
    assert result.description == "Waters itself"


@pytest.mark.vcr
def test_never_valid(recording_url: Callable[..., Any]) -> None:
    script = ["no json here", "[1, 2, 3]", '{"title": 5}']
    with (
        recording_url(responder=scripted_responder(script)) as (url, _),
        pytest.raises(StructuredOutputError, match="after 3 attempt") as info,
    ):
        _client(url).generate_structure("Create a product idea", GUIDE, max_retries=2)
    assert [raw for raw, _ in info.value.attempts] == script
    assert "JSON list" in info.value.attempts[1][1]
    assert info.value.tier == "base"


@pytest.mark.vcr
async def test_async_with_context(recording_url: Callable[..., Any]) -> None:
    with recording_url(responder=scripted_responder([json.dumps(IDEA)])) as (url, space):
        result = await _client(url).agenerate_structure(
            "Create a product idea", GUIDE, context={"industry": "gardening"}
        )
        if space is not None:
            sent = space.requests[0].json["inputs"]
            assert sent.index("</context>") < sent.index("Create a product idea")
    assert result.title == "Smart garden"


def test_bad_schema_fails_before_sending() -> None:
    client = _client("http://127.0.0.1:9")
    with pytest.raises(SchemaError, match="title: unknown type"):
        client.generate_structure("x", {"title": "strng"})


# --------------------------------------------------------------- extraction at adversarial sizes
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
_PROSE = st.text(alphabet=st.characters(blacklist_characters='[]{}"`\\'), max_size=40)


@settings(max_examples=100, deadline=None)
@given(_PROSE, st.dictionaries(st.text(max_size=5), _JSON_VALUES, min_size=1, max_size=4), _PROSE)
def test_an_object_among_prose_is_found(before: str, value: dict[str, Any], after: str) -> None:
    assert extract_json(f"{before} {json.dumps(value)} {after}") == value


@settings(max_examples=30, deadline=5000)
@given(
    st.sampled_from(["[", "{", "[{", '["', "```", '{"a":', "x [", '"', "\\"]),
    st.integers(min_value=20_000, max_value=200_000),
)
def test_extraction_is_linear_on_adversarial_input(unit: str, size: int) -> None:
    """200,000 unclosed brackets took 43 s per attempt when every start was re-decoded; the
    hypothesis deadline (5 s) is the hang guard."""
    text = unit * (size // len(unit))
    with contextlib.suppress(StructuredParseError):
        extract_json(text)
    with contextlib.suppress(StructuredParseError):
        extract_json(text + ' {"found": true}')


def test_an_object_after_a_huge_unclosed_prefix_is_found() -> None:
    assert extract_json("[" * 200_000 + ' {"found": true}') == {"found": True}


def test_a_deep_valid_nest_is_not_a_recursion_error() -> None:
    value = extract_json("[" * 5000 + "]" * 5000 + " no object")
    assert isinstance(value, list)


@pytest.mark.parametrize(
    "text",
    [
        'He said "use { carefully" and {"found": true}',
        'Use [ "this ] then {"found": true}',
        'The set {a, b} and the list [1, 2] and {"found": true}',
    ],
)
def test_a_stray_quote_or_bracket_does_not_hide_the_object(text: str) -> None:
    assert extract_json(text) == {"found": True}
