"""``structured_predict`` / ``as_structured_llm`` with a pydantic class on both kinds of Space.

openai Spaces answer through native tool calling (LlamaIndex's FunctionCallingProgram); text
Spaces by default through JSON asked for in the prompt (LLMTextCompletionProgram), or, with
``pydantic_program_mode="function"``, through the shared tool protocol.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_index.core.llms import ChatMessage
from llama_index.core.prompts import PromptTemplate
from llama_index.core.types import PydanticProgramMode
from pydantic import BaseModel

from langchain_hf_spaces import SpaceConfig
from langchain_hf_spaces.testing import LocalSpace, scripted_responder
from llama_index_hf_spaces import HuggingFaceSpaceLLM


class Invoice(BaseModel):
    """An invoice."""

    number: str
    total: float


PROMPT = PromptTemplate("Extract the invoice: {text}")
FIELDS = {"number": "INV-7", "total": 12.5}
EXPECTED = Invoice(number="INV-7", total=12.5)


def _openai(url: str) -> HuggingFaceSpaceLLM:
    return HuggingFaceSpaceLLM(space=SpaceConfig(url=url, protocol="openai", model="m"))


def _tool_call() -> dict[str, Any]:
    return {"tool_calls": [{"name": "Invoice", "arguments": FIELDS}]}


async def test_structured_predict_on_an_openai_space() -> None:
    with LocalSpace(responder=scripted_responder([_tool_call(), _tool_call()])) as space:
        llm = _openai(space.url)
        assert llm.structured_predict(Invoice, PROMPT, text="INV-7, 12.50") == EXPECTED
        assert await llm.astructured_predict(Invoice, PROMPT, text="INV-7") == EXPECTED
        body = next(r.json for r in space.requests if r.path == "/v1/chat/completions")
    assert body["tools"][0]["function"]["name"] == "Invoice"
    assert body["tool_choice"] == "required"


@pytest.mark.parametrize("protocol", ["openai", "tgi"])
def test_as_structured_llm_on_both_kinds_of_space(protocol: str) -> None:
    answer: Any = _tool_call() if protocol == "openai" else json.dumps(FIELDS)
    with LocalSpace(responder=scripted_responder([answer])) as space:
        llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=space.url, protocol=protocol, model="m"))
        structured = llm.as_structured_llm(Invoice)
        reply = structured.chat([ChatMessage(role="user", content="INV-7 over 12.50")])
    assert reply.raw == EXPECTED
    assert json.loads(reply.message.content or "") == FIELDS


def test_text_spaces_ask_for_json_in_the_prompt_by_default() -> None:
    with LocalSpace(responder=scripted_responder([f"Sure: {json.dumps(FIELDS)}"])) as space:
        llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=space.url, protocol="tgi"))
        assert llm.pydantic_program_mode is PydanticProgramMode.LLM
        assert llm.structured_predict(Invoice, PROMPT, text="INV-7") == EXPECTED
        prompt = space.requests[-1].json["inputs"]
    assert '"total"' in prompt and "tool_calls" not in prompt


@pytest.mark.parametrize(
    "reply",
    [
        json.dumps({"tool_calls": [{"name": "Invoice", "arguments": FIELDS}]}),
        json.dumps({"name": "Invoice", "arguments": FIELDS}),
        "```json\n" + json.dumps(FIELDS) + "\n```",  # a bare object for the one forced tool
    ],
)
def test_text_spaces_through_the_tool_protocol(reply: str) -> None:
    with LocalSpace(responder=scripted_responder([reply])) as space:
        llm = HuggingFaceSpaceLLM(
            space=SpaceConfig(url=space.url, protocol="tgi"), pydantic_program_mode="function"
        )
        assert llm.structured_predict(Invoice, PROMPT, text="INV-7") == EXPECTED
        prompt = space.requests[-1].json["inputs"]
    assert "tool_calls" in prompt and '"name": "Invoice"' in prompt
