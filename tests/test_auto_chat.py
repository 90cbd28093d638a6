"""A chat model pointed at an ``auto`` Space that turns out to be OpenAI-compatible sends its
messages natively from the first call (the protocol is probed before the path is chosen)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from langchain_hf_spaces import ChatHuggingFaceSpace, SpaceClient, SpaceConfig
from langchain_hf_spaces.testing import Fault, LocalSpace


@pytest.fixture
def openai_only() -> Iterator[LocalSpace]:
    """A Space that answers only the OpenAI-compatible routes (no Gradio, no TGI /info)."""
    with LocalSpace(name="chat") as space:
        for path in ("/config", "/info"):
            space.inject(Fault.status(404, body=b'{"error": "Not Found"}'), times=None, path=path)
        yield space


def test_resolve_protocol_probes_once(openai_only: LocalSpace) -> None:
    client = SpaceClient(SpaceConfig(url=openai_only.url, protocol="auto"))
    assert client.protocol == "auto" and not client.is_chat_native
    assert client.resolve_protocol() == "openai"
    assert client.is_chat_native
    probes = len(openai_only.requests)
    assert client.resolve_protocol() == "openai" and len(openai_only.requests) == probes


def test_langchain_chat_goes_native_on_the_first_call(openai_only: LocalSpace) -> None:
    chat = ChatHuggingFaceSpace(space=SpaceConfig(url=openai_only.url, protocol="auto"))
    reply = chat.invoke("Hello there")
    assert reply.content
    paths = [r.path for r in openai_only.requests]
    assert "/v1/chat/completions" in paths
    assert "/api/generate" not in paths and "/generate" not in paths


async def test_llama_index_async_chat_goes_native(openai_only: LocalSpace) -> None:
    from llama_index.core.llms import ChatMessage

    from llama_index_hf_spaces import HuggingFaceSpaceLLM

    llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=openai_only.url, protocol="auto"))
    reply = await llm.achat([ChatMessage(role="user", content="Hello")])
    assert reply.message.content
    chat_calls = [r for r in openai_only.requests if r.path == "/v1/chat/completions"]
    assert chat_calls and chat_calls[-1].json["messages"][-1]["content"] == "Hello"
