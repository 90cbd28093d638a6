"""Gradio Spaces as tools inside agents: a LangGraph agent (``create_agent``) and a LlamaIndex
``FunctionAgent``, each with our chat model / LLM over a scripted ``LocalSpace`` that calls the
tools of a real Gradio 6 app (``tests/support/gradio_tools_app.py``) on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from langchain_hf_spaces import SpaceConfig, SpaceTool
from langchain_hf_spaces.testing import LocalSpace, scripted_responder
from langchain_hf_spaces.tools import SpaceToolResult

FAST: dict[str, Any] = {"retry_initial_delay": 0.01, "max_retries": 0}


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    from tests.support.gradio_tools_app import running_tools_app

    with running_tools_app() as url:
        yield url


def _call(name: str, **arguments: Any) -> str:
    return json.dumps({"tool_calls": [{"name": name, "arguments": arguments}]})


def _prompts(space: LocalSpace) -> list[str]:
    return [str(r.json["inputs"]) for r in space.requests if r.json and "inputs" in r.json]


def test_langgraph_agent_calls_space_tools(app_url: str) -> None:
    from langchain.agents import create_agent
    from langchain_core.messages import HumanMessage, ToolMessage

    from langchain_hf_spaces.chat_models import ChatHuggingFaceSpace

    tools = SpaceTool.list(app_url, **FAST)
    script = [
        _call("translate", text="good morning", language="German", register="formal"),
        _call("swatch", colour="green", size=4),
        "Done: the greeting is translated and the swatch is drawn.",
    ]
    with LocalSpace(responder=scripted_responder(script)) as space:
        agent = create_agent(ChatHuggingFaceSpace(space_url=space.url), tools=tools)
        result = agent.invoke({"messages": [HumanMessage("Translate and draw a swatch.")]})
        prompts = _prompts(space)
    messages = result["messages"]
    replies = [m for m in messages if isinstance(m, ToolMessage)]
    assert [m.name for m in replies] == ["translate", "swatch"]
    assert replies[0].content == "[German, formal] good morning"
    image = replies[1].artifact
    assert isinstance(image, SpaceToolResult) and image.files[0].mime_type == "image/png"
    assert replies[1].content == f"image/png: {image.files[0].url}"
    assert messages[-1].content == script[-1]
    # the model saw the tools' schemas (enums from the Dropdown) and then their results
    assert '"enum": ["French", "German", "Italian"]' in prompts[0]
    assert "[German, formal] good morning" in prompts[1]
    assert image.files[0].url in prompts[2]


async def test_langgraph_agent_async_with_a_tool_error(app_url: str) -> None:
    from langchain.agents import create_agent
    from langchain_core.messages import HumanMessage, ToolMessage

    from langchain_hf_spaces.chat_models import ChatHuggingFaceSpace

    fail = SpaceTool.from_space(app_url, api_name="/fail", handle_tool_error=True, **FAST)
    reverse = await SpaceTool.afrom_space(app_url, api_name="/reverse", **FAST)
    script = [_call("fail", text="x"), _call("reverse", text="abc", times=2), "cbacba"]
    with LocalSpace(responder=scripted_responder(script)) as space:
        agent = create_agent(ChatHuggingFaceSpace(space_url=space.url), tools=[fail, reverse])
        result = await agent.ainvoke({"messages": [HumanMessage("Try both.")]})
        prompts = _prompts(space)
    replies = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert replies[0].status == "error" and "out of ink" in str(replies[0].content)
    assert replies[1].content == "cbacba" and replies[1].status == "success"
    assert "out of ink" in prompts[1]  # the model was told what went wrong


async def test_llama_index_function_agent_calls_space_tools(app_url: str) -> None:
    from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult

    from llama_index_hf_spaces import HuggingFaceSpaceLLM
    from llama_index_hf_spaces.tools import space_tool

    translate = space_tool(app_url, api_name="/translate", **FAST)
    swatch = space_tool(app_url, api_name="/swatch", **FAST)
    script = [
        _call("translate", text="thank you", language="Italian", register="casual"),
        _call("swatch", colour="red"),
        "Grazie! And here is a red swatch.",
    ]
    with LocalSpace(responder=scripted_responder(script)) as space:
        llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=space.url))
        agent = FunctionAgent(tools=[translate, swatch], llm=llm)
        handler = agent.run(user_msg="Say thanks in Italian and draw a red swatch.")
        results = [ev async for ev in handler.stream_events() if isinstance(ev, ToolCallResult)]
        answer = await handler
        prompts = _prompts(space)
    assert str(answer) == script[-1]
    assert [r.tool_name for r in results] == ["translate", "swatch"]
    assert results[0].tool_output.content == "[Italian, casual] thank you"
    image = results[1].tool_output.raw_output
    assert isinstance(image, SpaceToolResult)
    (png,) = image.files
    assert png.mime_type == "image/png" and png.url is not None
    assert '"enum": ["formal", "casual"]' in prompts[0]
    assert "[Italian, casual] thank you" in prompts[1] and png.url in prompts[2]
