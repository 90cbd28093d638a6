"""A full agent tool loop (langchain.agents.create_agent) on a text Space and an openai Space.

The Space's answers are scripted (LocalSpace); the loop itself (tool call -> tool result ->
answer) is what is under test. Cassettes: ``cassettes/test_agents/``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from langchain_hf_spaces.chat_models import ChatHuggingFaceSpace
from langchain_hf_spaces.testing import scripted_responder


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"Sunny, 21 C in {city}"


def _run_agent(chat: ChatHuggingFaceSpace) -> list[Any]:
    agent = create_agent(chat, tools=[get_weather], system_prompt="You are a weather bot.")
    result = agent.invoke({"messages": [HumanMessage("What is the weather in Paris?")]})
    return list(result["messages"])


def _assert_loop(messages: list[Any]) -> None:
    kinds = [type(m).__name__ for m in messages]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    call = messages[1].tool_calls[0]
    assert call["name"] == "get_weather" and call["args"] == {"city": "Paris"}
    assert isinstance(messages[2], ToolMessage)
    assert messages[2].content == "Sunny, 21 C in Paris"
    assert messages[2].tool_call_id == call["id"]
    assert isinstance(messages[3], AIMessage)
    assert messages[3].content == "It is sunny and 21 C in Paris."
    assert not messages[3].tool_calls


@pytest.mark.vcr
def test_agent_loop_on_text_space(recording_url: Callable[..., Any]) -> None:
    script = [
        '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}<|im_end|>',
        "It is sunny and 21 C in Paris.<|im_end|>",
    ]
    with recording_url(responder=scripted_responder(script)) as (url, space):
        messages = _run_agent(ChatHuggingFaceSpace(space_url=url, max_new_tokens=64))
        if space is not None:
            second = space.requests[1].json["inputs"]
            # The tool result went back to the model in the documented protocol.
            assert "<|im_start|>tool\nResult of tool 'get_weather'" in second
            assert "Sunny, 21 C in Paris" in second
            assert "# Tools" in space.requests[0].json["inputs"]
    _assert_loop(messages)


@pytest.mark.vcr
def test_agent_loop_on_openai_space(recording_url: Callable[..., Any]) -> None:
    script: list[Any] = [
        {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
        "It is sunny and 21 C in Paris.",
    ]
    with recording_url(responder=scripted_responder(script)) as (url, space):
        chat = ChatHuggingFaceSpace(space_url=url, protocol="openai", max_new_tokens=64)
        messages = _run_agent(chat)
        if space is not None:
            chats = [r.json for r in space.requests if r.path == "/v1/chat/completions"]
            body = chats[0]
            # Native tools: the schema went as an OpenAI tool, not into the prompt.
            assert [t["function"]["name"] for t in body["tools"]] == ["get_weather"]
            second = chats[1]["messages"]
            assert second[-1]["role"] == "tool"
            assert json.dumps(second[-1]["content"]).find("Sunny") >= 0
    _assert_loop(messages)
    assert messages[3].usage_metadata is not None
    assert messages[3].usage_metadata["output_tokens"] > 0
