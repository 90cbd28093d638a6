"""Structured output in LangChain: SchemaOutputParser and with_structured_output (re-asking).

Cassettes (``cassettes/test_structured_lc/``) are recorded from LocalSpace with scripted answers:
valid first time, valid after one re-ask, never valid.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, SystemMessage
from langchain_core.prompts import PromptTemplate
from pydantic import BaseModel

from langchain_hf_spaces import SchemaError, StructuredOutputError
from langchain_hf_spaces.chat_models import ChatHuggingFaceSpace
from langchain_hf_spaces.llms import HuggingFaceSpaceLLM
from langchain_hf_spaces.output_parsers import SchemaOutputParser
from langchain_hf_spaces.testing import scripted_responder

GUIDE = {"title": "string", "description": "string", "pros": "string[]", "cons": "string[]"}
IDEA = {"title": "Smart garden", "description": "Waters itself", "pros": ["easy"], "cons": ["$"]}
PROMPT = "Create a product idea for a smart garden device"


class Idea(BaseModel):
    title: str
    pros: list[str]


# ------------------------------------------------------------------ the parser (no network)
def test_parser_instructions_come_from_the_schema() -> None:
    parser = SchemaOutputParser(GUIDE)
    text = parser.get_format_instructions()
    assert "single JSON object" in text
    assert json.dumps(parser.pydantic_object.model_json_schema(), separators=(",", ":")) in text


def test_parser_parses_prose_and_fences_into_an_instance() -> None:
    result = SchemaOutputParser(GUIDE).parse(f"Here:\n```json\n{json.dumps(IDEA)}\n```\nDone.")
    assert result.title == "Smart garden" and result.pros == ["easy"]


def test_parser_returns_a_dict_for_a_json_schema_and_an_instance_for_pydantic() -> None:
    schema = Idea.model_json_schema()
    assert SchemaOutputParser(schema).parse(json.dumps(IDEA)) == {
        "title": "Smart garden",
        "pros": ["easy"],
    }
    assert SchemaOutputParser(Idea).parse(json.dumps(IDEA)) == Idea(
        title="Smart garden", pros=["easy"]
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (json.dumps([IDEA]), "JSON list, but one JSON object"),
        (json.dumps({**IDEA, "pros": "easy"}), "pros: Input should be a valid list"),
        ("no json at all", "holds no JSON object"),
    ],
)
def test_parser_errors_carry_the_raw_text(text: str, problem: str) -> None:
    with pytest.raises(OutputParserException, match=problem) as info:
        SchemaOutputParser(GUIDE).parse(text)
    assert info.value.llm_output == text


def test_parser_rejects_a_malformed_schema_naming_the_path() -> None:
    with pytest.raises(SchemaError, match=r"pros\[\]: unknown type 'strng'"):
        SchemaOutputParser({"pros": "strng[]"})


# ------------------------------------------------------------------ over the wire
def _llm(url: str) -> HuggingFaceSpaceLLM:
    return HuggingFaceSpaceLLM(space_url=url, max_retries=0)


@pytest.mark.vcr
def test_parser_in_a_chain(recording_url: Callable[..., Any]) -> None:
    parser = SchemaOutputParser(GUIDE)
    prompt = PromptTemplate.from_template("{question}\n\n{format}").partial(
        format=parser.get_format_instructions()
    )
    with recording_url(responder=scripted_responder([json.dumps(IDEA)])) as (url, space):
        result = (prompt | _llm(url) | parser).invoke({"question": PROMPT})
        if space is not None:
            assert parser.get_format_instructions() in space.requests[0].json["inputs"]
    assert result.title == "Smart garden"


@pytest.mark.vcr
def test_llm_valid_first_time(recording_url: Callable[..., Any]) -> None:
    with recording_url(responder=scripted_responder([json.dumps(IDEA)])) as (url, space):
        result = _llm(url).with_structured_output(GUIDE).invoke(PROMPT)
        if space is not None:
            assert len(space.requests) == 1
    assert result.title == "Smart garden" and result.cons == ["$"]


@pytest.mark.vcr
def test_llm_valid_after_one_reask(recording_url: Callable[..., Any]) -> None:
    first = json.dumps({"title": "Garden", "pros": "cheap"})
    with recording_url(responder=scripted_responder([first, json.dumps(IDEA)])) as (url, space):
        structured = _llm(url).with_structured_output(GUIDE, include_raw=True)
        out = structured.invoke(PROMPT)
        if space is not None:
            reask = space.requests[1].json["inputs"]
            assert "Your previous answer was:" in reask and first in reask
    assert out["parsed"].description == "Waters itself"
    assert out["raw"] == json.dumps(IDEA) and out["parsing_error"] is None


@pytest.mark.vcr
def test_llm_never_valid(recording_url: Callable[..., Any]) -> None:
    script = ["no json here", "[1, 2, 3]", '{"title": 5}']
    with (
        recording_url(responder=scripted_responder(script)) as (url, _),
        pytest.raises(StructuredOutputError, match="after 3 attempt") as info,
    ):
        _llm(url).with_structured_output(GUIDE, max_retries=2).invoke(PROMPT)
    assert [raw for raw, _ in info.value.attempts] == script
    assert info.value.tier == "base" and info.value.url == url


@pytest.mark.vcr
def test_llm_never_valid_with_include_raw_returns_the_error(
    recording_url: Callable[..., Any],
) -> None:
    with recording_url(responder=scripted_responder(["nope", "still nope"])) as (url, _):
        out = _llm(url).with_structured_output(Idea, include_raw=True, max_retries=1).invoke("x")
    assert out["parsed"] is None and out["raw"] == "still nope"
    assert isinstance(out["parsing_error"], StructuredOutputError)
    assert len(out["parsing_error"].attempts) == 2


@pytest.mark.vcr
async def test_llm_async_with_context_and_json_schema(recording_url: Callable[..., Any]) -> None:
    with recording_url(responder=scripted_responder([json.dumps(IDEA)])) as (url, space):
        structured = _llm(url).with_structured_output(Idea.model_json_schema())
        result = await structured.ainvoke({"prompt": PROMPT, "context": {"industry": "garden"}})
        if space is not None:
            sent = space.requests[0].json["inputs"]
            assert sent.index('"industry": "garden"') < sent.index("</context>")
            assert sent.index("</context>") < sent.index(PROMPT)
    assert result == {"title": "Smart garden", "pros": ["easy"]}


@pytest.mark.vcr
async def test_llm_batch_and_abatch(recording_url: Callable[..., Any]) -> None:
    answers = {"one": json.dumps({"title": "One", "pros": []}), "two": json.dumps(IDEA)}
    with recording_url(responder=scripted_responder(answers)) as (url, _):
        structured = _llm(url).with_structured_output(Idea)
        assert [r.title for r in structured.batch(["one", "two"])] == ["One", "Smart garden"]
        assert [r.title for r in await structured.abatch(["two", "one"])] == [
            "Smart garden",
            "One",
        ]


@pytest.mark.vcr
def test_chat_with_the_guide_schema_reasks(recording_url: Callable[..., Any]) -> None:
    script = ["A garden that waters itself!<|im_end|>", json.dumps(IDEA) + "<|im_end|>"]
    with recording_url(responder=scripted_responder(script)) as (url, space):
        chat = ChatHuggingFaceSpace(space_url=url, max_retries=0)
        structured = chat.with_structured_output(GUIDE, include_raw=True)
        out = structured.invoke([SystemMessage("You design products."), ("user", PROMPT)])
        if space is not None:
            second = space.requests[1].json["inputs"]
            assert "You design products." in second
            assert "A garden that waters itself!" in second and "It was not valid" in second
    assert out["parsed"].title == "Smart garden"
    assert isinstance(out["raw"], AIMessage)


def test_chat_guide_schema_needs_the_reask_method() -> None:
    chat = ChatHuggingFaceSpace(space_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="method='reask'"):
        chat.with_structured_output(GUIDE, method="json_mode")
