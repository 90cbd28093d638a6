"""HuggingFaceSpaceLLM inside LlamaIndex: a query engine, a ReAct agent, structured_predict.

Each test replays a cassette recorded from a LocalSpace answering from a script.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core import MockEmbedding, VectorStoreIndex
from llama_index.core.agent.workflow import ReActAgent
from llama_index.core.prompts import PromptTemplate
from llama_index.core.schema import TextNode
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from langchain_hf_spaces.testing import scripted_responder
from tests.llama_index.conftest import Sent

pytestmark = pytest.mark.vcr

DOCUMENTS = [
    "The Lantern Bakery opens at 7 am on weekdays.",
    "The Lantern Bakery is closed on Sundays.",
]


def test_query_engine_answers_from_documents(
    recording_url: Callable[..., Any], make_llm: Any, sent: Sent
) -> None:
    answer = "It opens at 7 am on weekdays."
    with recording_url(responder=scripted_responder([answer])) as (url, _):
        llm = make_llm(url, max_new_tokens=64)
        # MockEmbedding ties every similarity; fixed node ids make the order (and so the
        # prompt, which the cassette matches on) deterministic.
        nodes = [TextNode(text=t, id_=f"doc-{i}") for i, t in enumerate(DOCUMENTS)]
        index = VectorStoreIndex(nodes, embed_model=MockEmbedding(embed_dim=8))
        engine = index.as_query_engine(llm=llm, similarity_top_k=2)
        response = engine.query("When does the Lantern Bakery open?")
    assert str(response) == answer
    prompt = sent.last["inputs"]
    # The retrieved documents and the question reached the Space in one prompt.
    for text in DOCUMENTS:
        assert text in prompt
    assert "When does the Lantern Bakery open?" in prompt
    assert len(response.source_nodes) == 2


async def test_react_agent_completes_a_tool_loop(
    recording_url: Callable[..., Any], make_llm: Any, sent: Sent
) -> None:
    calls: list[tuple[int, int]] = []

    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        calls.append((a, b))
        return a * b

    script = [
        'Thought: I need the product.\nAction: multiply\nAction Input: {"a": 6, "b": 7}',
        "Thought: I can answer without using any more tools.\nAnswer: 6 times 7 is 42.",
    ]
    with recording_url(responder=scripted_responder(script)) as (url, _):
        llm = make_llm(url, max_new_tokens=128)
        agent = ReActAgent(tools=[FunctionTool.from_defaults(multiply)], llm=llm)
        result = await agent.run(user_msg="What is 6 times 7?")
    assert calls == [(6, 7)]
    assert str(result.response.content) == "6 times 7 is 42."
    assert len(sent.bodies) == 2
    first, second = (body["inputs"] for body in sent.bodies)
    assert "multiply" in first and "What is 6 times 7?" in first
    # The tool's result went back to the Space as an observation.
    assert "Observation: 42" in second
    assert second.endswith("<|im_start|>assistant\n")


class Invoice(BaseModel):
    number: str
    total: float
    paid: bool


def test_structured_predict_with_pydantic_class(
    recording_url: Callable[..., Any], make_llm: Any, sent: Sent
) -> None:
    reply = '{"number": "INV-7", "total": 12.5, "paid": false}'
    with recording_url(responder=scripted_responder([reply])) as (url, _):
        llm = make_llm(url, max_new_tokens=64)
        invoice = llm.structured_predict(
            Invoice,
            PromptTemplate("Extract the invoice from this text: {text}"),
            text="Invoice INV-7 over 12.50 EUR, not yet paid.",
        )
    assert invoice == Invoice(number="INV-7", total=12.5, paid=False)
    prompt = sent.last["inputs"]
    assert "Invoice INV-7 over 12.50 EUR, not yet paid." in prompt
    assert '"total"' in prompt  # the JSON schema of the class was part of the prompt


async def test_astructured_predict_with_pydantic_class(
    recording_url: Callable[..., Any], make_llm: Any
) -> None:
    reply = 'Here it is: {"number": "INV-8", "total": 3, "paid": true}'
    with recording_url(responder=scripted_responder([reply])) as (url, _):
        invoice = await make_llm(url).astructured_predict(
            Invoice, PromptTemplate("Extract the invoice: {text}"), text="INV-8, 3 EUR, paid."
        )
    assert invoice == Invoice(number="INV-8", total=3.0, paid=True)
