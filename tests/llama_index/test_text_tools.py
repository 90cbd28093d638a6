"""Tools on text Spaces (#15.8) and LlamaIndex's agents on both kinds of Space.

Live against LocalSpace with scripted answers: on a TGI Space the model's reply is the tool
protocol's JSON text (what a real model writes when the prompt describes the tools); on an
openai Space the script's tool-call dicts become native tool calls.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from llama_index.core.agent.workflow import AgentStream, FunctionAgent, ReActAgent
from llama_index.core.llms import ChatMessage
from llama_index.core.tools import FunctionTool

from langchain_hf_spaces import SpaceConfig, SpaceInputError
from langchain_hf_spaces._tools import (
    ToolChoice,
    parse_tool_reply,
    render_tool_calls,
    render_tool_result,
    tool_system_prompt,
)
from langchain_hf_spaces.testing import LocalSpace, scripted_responder
from llama_index_hf_spaces import HuggingFaceSpaceLLM
from llama_index_hf_spaces._tool_prompt import ToolStreamSplitter, text_tools

CALLS: list[tuple[int, int]] = []


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    CALLS.append((a, b))
    return a * b


TOOL = FunctionTool.from_defaults(fn=multiply)
SPEC = TOOL.metadata.to_openai_tool()


def _tool_reply(a: int, b: int) -> str:
    return json.dumps({"tool_calls": [{"name": "multiply", "arguments": {"a": a, "b": b}}]})


def _tgi(url: str, **fields: Any) -> HuggingFaceSpaceLLM:
    return HuggingFaceSpaceLLM(space=SpaceConfig(url=url, protocol="tgi"), **fields)


def _prompts(space: LocalSpace) -> list[str]:
    return [r.json["inputs"] for r in space.requests if r.path.startswith("/generate")]


@pytest.fixture(autouse=True)
def _fresh_calls() -> None:
    CALLS.clear()


# ------------------------------------------------------------------ chat_with_tools


def test_chat_with_tools_on_a_tgi_space() -> None:
    with LocalSpace(responder=scripted_responder([_tool_reply(6, 7)])) as space:
        llm = _tgi(space.url)
        response = llm.chat_with_tools([TOOL], user_msg="6 x 7?", tool_required=True)
        (selection,) = llm.get_tool_calls_from_response(response)
        assert (selection.tool_name, selection.tool_kwargs) == ("multiply", {"a": 6, "b": 7})
        assert selection.tool_id.startswith("call_")
        assert response.message.content == ""  # the JSON is not left in the content
        (prompt,) = _prompts(space)
        # the tools are described in the system turn of the chat template
        section = tool_system_prompt([SPEC], ToolChoice("required"))
        assert prompt.startswith(f"<|im_start|>system\n{section}<|im_end|>\n")
        assert prompt.endswith("<|im_start|>user\n6 x 7?<|im_end|>\n<|im_start|>assistant\n")


def test_predict_and_call_on_a_tgi_space_runs_the_tool() -> None:
    with LocalSpace(responder=scripted_responder([_tool_reply(2, 21)])) as space:
        output = _tgi(space.url).predict_and_call([TOOL], user_msg="2 x 21?")
    assert CALLS == [(2, 21)] and str(output) == "42"


def test_tool_choice_none_and_an_unknown_tool_choice() -> None:
    with LocalSpace(responder=scripted_responder(["Just text {not json"])) as space:
        llm = _tgi(space.url)
        response = llm.chat_with_tools([TOOL], user_msg="hi", tool_choice="none")
        assert response.message.content == "Just text {not json"
        assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []
        assert "Multiply two integers" not in _prompts(space)[0]  # no tool section
        with pytest.raises(SpaceInputError, match="not bound"):
            llm.chat_with_tools([TOOL], user_msg="hi", tool_choice="divide")


def test_a_malformed_tool_call_is_reported_not_run() -> None:
    reply = '{"tool_calls": [{"name": "multiply", "arguments": {"a": 1,'
    with LocalSpace(responder=scripted_responder([reply])) as space:
        llm = _tgi(space.url)
        response = llm.chat_with_tools([TOOL], user_msg="1 x ?")
        (invalid,) = response.message.additional_kwargs["invalid_tool_calls"]
        assert "not valid JSON" in invalid["error"]
        with pytest.raises(ValueError, match="invalid tool calls: The reply is not valid JSON"):
            llm.get_tool_calls_from_response(response)
    assert CALLS == []


def test_streamed_text_stops_where_the_tool_call_begins() -> None:
    reply = "Let me compute that.\n" + _tool_reply(3, 4)
    with LocalSpace(responder=scripted_responder([reply]), truncate=False) as space:
        llm = _tgi(space.url)
        parts = list(llm.stream_chat_with_tools([TOOL], user_msg="3 x 4?"))
    deltas = "".join(p.delta or "" for p in parts)
    assert "{" not in deltas and deltas.strip() == "Let me compute that."
    assert len(parts) > 3  # streamed token by token, not held back as one chunk
    (selection,) = llm.get_tool_calls_from_response(parts[-1])
    assert selection.tool_kwargs == {"a": 3, "b": 4}
    assert parts[-1].message.content.strip() == "Let me compute that."


# ------------------------------------------------------------------ agents


async def _run(agent: Any, question: str) -> tuple[str, list[str]]:
    handler = agent.run(user_msg=question)
    deltas = [ev.delta async for ev in handler.stream_events() if isinstance(ev, AgentStream)]
    return str(await handler), deltas


@pytest.mark.parametrize("streaming", [True, False])
async def test_function_agent_on_a_tgi_space(streaming: bool) -> None:
    final = "3 times 4 is 12, as the tool says."
    script = [_tool_reply(3, 4), final]
    with LocalSpace(responder=scripted_responder(script), truncate=False) as space:
        llm = _tgi(space.url)
        agent = FunctionAgent(tools=[TOOL], llm=llm, streaming=streaming)
        result, deltas = await _run(agent, "What is 3 times 4?")
        first, second = _prompts(space)
    assert CALLS == [(3, 4)] and result == final
    assert tool_system_prompt([SPEC], ToolChoice("auto")) in first
    assert "What is 3 times 4?" in first
    # the tool call went back in the protocol's form, and the result as a tool turn
    (call,) = parse_tool_reply(script[0], ["multiply"])[1]
    assert render_tool_calls([call]) in second
    result_turn = render_tool_result("12", name="multiply", call_id=call["id"])
    assert f"<|im_start|>tool\n{result_turn}<|im_end|>" in second
    if streaming:
        assert "".join(deltas) == final and len(deltas) > 3  # the answer streamed
        assert not any("tool_calls" in d for d in deltas)  # the tool call did not


async def test_function_agent_initial_tool_choice_on_both_kinds_of_space() -> None:
    with LocalSpace(responder=scripted_responder([_tool_reply(5, 5), "25."])) as text:
        agent = FunctionAgent(tools=[TOOL], llm=_tgi(text.url), initial_tool_choice="multiply")
        assert "25" in (await _run(agent, "5 x 5?"))[0]
        forced = tool_system_prompt([SPEC], ToolChoice("function", "multiply"))
        assert forced in _prompts(text)[0]
    script: list[Any] = [
        {"tool_calls": [{"name": "multiply", "arguments": {"a": 5, "b": 5}}]},
        "25.",
    ]
    with LocalSpace(responder=scripted_responder(script)) as chat:
        llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=chat.url, protocol="openai", model="m"))
        agent = FunctionAgent(tools=[TOOL], llm=llm, initial_tool_choice="multiply")
        assert "25" in (await _run(agent, "5 x 5?"))[0]
        first = next(r.json for r in chat.requests if r.path == "/v1/chat/completions")
        # a bare tool name is sent in OpenAI's form, which real servers require
        assert first["tool_choice"] == {"type": "function", "function": {"name": "multiply"}}


async def test_react_agent_on_an_openai_space() -> None:
    script = [
        'Thought: I need the product.\nAction: multiply\nAction Input: {"a": 6, "b": 7}',
        "Thought: I can answer without using any more tools.\nAnswer: 6 times 7 is 42.",
    ]
    with LocalSpace(responder=scripted_responder(script)) as space:
        llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=space.url, protocol="openai", model="m"))
        result, _ = await _run(ReActAgent(tools=[TOOL], llm=llm), "What is 6 times 7?")
        bodies = [r.json for r in space.requests if r.path == "/v1/chat/completions"]
    assert CALLS == [(6, 7)] and result == "6 times 7 is 42."
    assert len(bodies) == 2 and "tools" not in bodies[0]  # ReAct asks in the prompt
    assert "Observation: 42" in json.dumps(bodies[1]["messages"])


async def test_react_agent_on_a_tgi_space() -> None:
    script = [
        'Thought: I need the product.\nAction: multiply\nAction Input: {"a": 2, "b": 8}',
        "Thought: I can answer without using any more tools.\nAnswer: 16",
    ]
    with LocalSpace(responder=scripted_responder(script)) as space:
        result, _ = await _run(ReActAgent(tools=[TOOL], llm=_tgi(space.url)), "2 x 8?")
        assert "Observation: 16" in _prompts(space)[1]
    assert CALLS == [(2, 8)] and result == "16"


# ------------------------------------------------------------------ the stream splitter (no I/O)


def _split(pieces: list[str], choice: Any = None) -> tuple[list[str], str, list[Any]]:
    tools = text_tools([SPEC], choice)
    assert tools is not None
    splitter = ToolStreamSplitter(tools)
    shown = [splitter.feed(p) for p in pieces]
    rest, content, calls, _ = splitter.finish()
    return [*shown, rest], content, calls


def test_splitter_passes_prose_on_as_it_comes() -> None:
    shown, content, calls = _split(["The ", "answer ", "is ", "12."])
    assert shown == ["The ", "answer ", "is ", "12.", ""] and content == "The answer is 12."
    assert calls == []


def test_splitter_holds_back_from_a_fence_or_brace() -> None:
    shown, content, calls = _split(["`", "``json\n", _tool_reply(1, 2), "\n```"])
    assert "".join(shown) == content == ""
    assert [c["arguments"] for c in calls] == [{"a": 1, "b": 2}]
    shown, content, calls = _split(["Sure. ", "{", '"tool_calls": [', _tool_reply(1, 2)[16:]])
    assert shown[:2] == ["Sure. ", ""] and "".join(shown) == "Sure. "
    assert [c["arguments"] for c in calls] == [{"a": 1, "b": 2}]
    # a backtick that turns out to be inline code is shown at the end, not lost
    shown, content, _ = _split(["Use `x", "` here."])
    assert "".join(shown) == content == "Use `x` here."


def test_a_forced_single_tool_takes_a_bare_json_object_as_its_arguments() -> None:
    _, content, calls = _split(['{"a": 4, "b": 5}'], choice="required")
    assert [(c["name"], c["arguments"]) for c in calls] == [("multiply", {"a": 4, "b": 5})]
    assert content == ""
    # without a forced tool, bare JSON stays text
    assert _split(['{"a": 4, "b": 5}'])[2] == []


def test_messages_render_earlier_calls_and_results_for_any_template() -> None:
    tools = text_tools([SPEC], "auto")
    assert tools is not None
    openai_call = {"id": "c1", "function": {"name": "multiply", "arguments": '{"a": 1}'}}
    history = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="1 x ?"),
        ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": [openai_call]}),
        ChatMessage(role="tool", content="1", additional_kwargs={"tool_call_id": "c1"}),
    ]
    system, user, assistant, tool = tools.messages(history)
    section = tool_system_prompt([SPEC], ToolChoice("auto"))
    assert system.content == f"Be brief.\n\n{section}"
    assert user.content == "1 x ?"
    assert assistant.content == render_tool_calls([{"name": "multiply", "arguments": {"a": 1}}])
    assert tool.content == render_tool_result("1", name="multiply", call_id="c1")
