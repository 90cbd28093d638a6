"""HuggingFaceSpaceLLM under faults, live against a LocalSpace on loopback.

Cut streams cannot be replayed from cassettes (the recorder reads a response whole before
handing it on), so these run against a real server.
"""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.llms import ChatMessage, MessageRole

from langchain_hf_spaces import (
    SpaceAuthError,
    SpaceConfig,
    SpaceConnectionError,
    SpaceNotFoundError,
)
from langchain_hf_spaces.testing import Fault, LocalSpace, scripted_responder
from llama_index_hf_spaces import HuggingFaceSpaceLLM

pytestmark = pytest.mark.live

ANSWER = "Tea is an infusion of cured leaves of the tea plant."


def test_cut_stream_raises_after_yielding(make_llm: Any) -> None:
    with LocalSpace(responder=scripted_responder([ANSWER])) as space:
        space.inject(Fault.stream_cut(after_events=3))
        received: list[str] = []
        with pytest.raises(SpaceConnectionError) as info:
            for part in make_llm(space.url, "tgi").stream_complete("What is tea?"):
                received.append(part.delta or "")
    assert len([r for r in received if r]) == 3
    assert ANSWER.startswith("".join(received).strip())
    assert info.value.tier == "base" and info.value.url == space.url


async def test_astream_chat_cut_raises_after_yielding(make_llm: Any) -> None:
    with LocalSpace(responder=scripted_responder([ANSWER])) as space:
        space.inject(Fault.stream_cut(after_events=2))
        received: list[str] = []
        chat = [ChatMessage(role=MessageRole.USER, content="What is tea?")]
        with pytest.raises(SpaceConnectionError):
            async for part in await make_llm(space.url, "tgi").astream_chat(chat):
                received.append(part.delta or "")
    assert "".join(received).strip()
    assert ANSWER.startswith("".join(received).strip())


def test_auth_error_passes_through_unchanged(make_llm: Any) -> None:
    with LocalSpace(token="hf_right_token") as space:
        llm = make_llm(space.url)
        with pytest.raises(SpaceAuthError) as info:
            llm.complete("Hello")
    assert info.value.status_code == 401
    assert info.value.url == space.url and info.value.tier == "base"
    assert "hf_right_token" not in str(info.value)


async def test_not_found_passes_through_async_chat(make_llm: Any) -> None:
    with LocalSpace() as space:
        llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=space.url, endpoint="/no/such/api"))
        with pytest.raises(SpaceNotFoundError) as info:
            await llm.achat([ChatMessage(role=MessageRole.USER, content="Hello")])
    assert info.value.status_code == 404
