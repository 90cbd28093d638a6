"""Native tool calling on an OpenAI-compatible Space: LlamaIndex's FunctionAgent runs a tool
loop through our LLM (live against a LocalSpace with scripted answers)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.llms import ChatMessage
from llama_index.core.tools import FunctionTool

from langchain_hf_spaces import SpaceConfig
from langchain_hf_spaces.testing import LocalSpace, scripted_responder
from llama_index_hf_spaces import HuggingFaceSpaceLLM


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


TOOL = FunctionTool.from_defaults(fn=multiply)


async def test_function_agent_completes_a_tool_loop() -> None:
    script: list[Any] = [
        {"tool_calls": [{"name": "multiply", "arguments": {"a": 3, "b": 4}}]},
        "3 times 4 is 12.",
    ]
    with LocalSpace(name="tools", responder=scripted_responder(script)) as space:
        llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=space.url, protocol="openai", model="m"))
        assert llm.metadata.is_function_calling_model
        agent = FunctionAgent(tools=[TOOL], llm=llm)
        result = await agent.run(user_msg="What is 3 times 4?")
        assert "12" in str(result)
        first, second = (r.json for r in space.requests if r.path == "/v1/chat/completions")
        assert first["tools"][0]["function"]["name"] == "multiply"
        # the tool's result went back to the Space with the call it answers
        tool_msgs = [m for m in second["messages"] if m["role"] == "tool"]
        assert tool_msgs and tool_msgs[0]["content"] == "12"
        call = next(m for m in second["messages"] if m.get("tool_calls"))["tool_calls"][0]
        assert call["id"] == tool_msgs[0]["tool_call_id"]
        assert json.loads(call["function"]["arguments"]) == {"a": 3, "b": 4}


def test_chat_with_tools_and_tool_selection() -> None:
    script: list[Any] = [
        {"tool_calls": [{"name": "multiply", "arguments": {"a": 6, "b": 7}}]},
        "Hello!",
    ]
    with LocalSpace(name="tools", responder=scripted_responder(script)) as space:
        llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=space.url, protocol="openai", model="m"))
        response = llm.chat_with_tools([TOOL], user_msg="6 x 7?", tool_required=True)
        (selection,) = llm.get_tool_calls_from_response(response)
        assert (selection.tool_name, selection.tool_kwargs) == ("multiply", {"a": 6, "b": 7})
        assert space.requests[-1].json["tool_choice"] == "required"
        with pytest.raises(ValueError, match="at least one tool call"):
            llm.get_tool_calls_from_response(llm.chat([ChatMessage(role="user", content="hi")]))
