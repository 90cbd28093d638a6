"""The official ``openai`` SDK against a real gateway server over ``LocalSpace`` tiers."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest

from langchain_hf_spaces import SpaceConfig
from langchain_hf_spaces.testing import scripted_responder
from tests.gateway.conftest import Stack, add_tool

USER = [{"role": "user", "content": "Hi there"}]


def test_models_lists_each_tier_with_its_space(started: Stack) -> None:
    base = started.space(name="base")
    company = started.space(name="company", token="hf_companySecret123")
    client = started.client(
        {
            "base": SpaceConfig(url=base.url, space_id="acme/base-llm"),
            "company": SpaceConfig(url=company.url, token="hf_companySecret123", protocol="tgi"),
        }
    )
    gateway = started.gateway(client)
    sdk = started.openai(gateway)
    models = sdk.models.list().data
    assert [m.id for m in models] == ["base", "company"]
    base_model, company_model = models
    assert base_model.owned_by == "acme"
    assert company_model.owned_by == "hf-spaces"
    assert base_model.model_extra is not None and company_model.model_extra is not None
    assert base_model.model_extra["hf_spaces"]["urls"] == [base.url]
    assert base_model.model_extra["hf_spaces"]["default"] is True
    assert company_model.model_extra["hf_spaces"]["protocol"] == "tgi"
    assert sdk.models.retrieve("company").id == "company"
    raw = httpx.get(gateway.base_url + "/models").text
    assert "hf_companySecret123" not in raw
    assert company.requests == []  # listing models sends nothing to the Spaces


def test_chat_on_a_text_space_renders_the_chat_template(started: Stack) -> None:
    script = scripted_responder(["Hello! How can I help?"])
    space, _, sdk = started.one(started.space(responder=script))
    reply = sdk.chat.completions.create(
        model="base",
        messages=[{"role": "system", "content": "Be brief."}, *USER],
        temperature=0.2,
        max_tokens=40,
    )
    assert reply.object == "chat.completion"
    assert reply.choices[0].message.content == "Hello! How can I help?"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model == "base"
    prompt, parameters = script.calls[0]
    assert prompt == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert parameters["temperature"] == 0.2
    assert parameters["max_new_tokens"] == 40
    assert "<|im_end|>" in parameters["stop"]
    assert reply.model_extra is not None
    assert reply.model_extra["hf_spaces"]["tier"] == "base"
    assert reply.model_extra["hf_spaces"]["url"] == space.url


def test_a_reply_is_cut_at_the_end_of_turn(started: Stack) -> None:
    script = scripted_responder(["Paris.<|im_end|>\n<|im_start|>user\nAnd Rome?"])
    _, _, sdk = started.one(started.space(responder=script))
    reply = sdk.chat.completions.create(model="base", messages=USER)
    assert reply.choices[0].message.content == "Paris."


def test_stream_in_openai_chunks_ending_with_done(started: Stack) -> None:
    answer = "one two three four five six"
    _, gateway, sdk = started.one(started.space(responder=scripted_responder([answer, answer])))
    chunks = list(
        sdk.chat.completions.create(
            model="base", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == answer
    assert len({c.id for c in chunks}) == 1
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    finished = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finished[-1] == "stop" and set(finished[:-1]) == {None}
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    # On the wire: SSE `data:` lines, the last one `[DONE]`.
    body = {"model": "base", "messages": USER, "stream": True}
    with httpx.stream("POST", gateway.base_url + "/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in events)
    assert events[-1] == "data: [DONE]"
    assert "usage" not in json.loads(events[0][6:])  # only with include_usage


def test_tools_on_a_text_space_use_the_tool_protocol(started: Stack) -> None:
    script = scripted_responder(
        [
            '{"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]}',
            "2 + 3 = 5.",
        ]
    )
    _, _, sdk = started.one(started.space(responder=script))
    messages: list[dict[str, object]] = [{"role": "user", "content": "What is 2 + 3?"}]
    first = sdk.chat.completions.create(model="base", messages=messages, tools=[add_tool()])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    (call,) = choice.message.tool_calls
    assert call.type == "function"
    assert call.function.name == "add"
    assert json.loads(call.function.arguments) == {"a": 2, "b": 3}
    assert "# Tools" in script.calls[0][0] and '"name": "add"' in script.calls[0][0]
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "5"},
    ]
    second = sdk.chat.completions.create(model="base", messages=messages, tools=[add_tool()])
    assert second.choices[0].message.content == "2 + 3 = 5."
    assert second.choices[0].finish_reason == "stop"
    prompt = script.calls[1][0]
    assert f"Result of tool 'add' (call {call.id}):\n5" in prompt
    assert '{"tool_calls": [{"arguments": {"a": 2, "b": 3}, "name": "add"}]}' in prompt


def test_tool_calls_stream_on_a_text_space(started: Stack) -> None:
    script = scripted_responder(
        ['Let me add. {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 1}}]}']
    )
    _, _, sdk = started.one(started.space(responder=script))
    chunks = list(
        sdk.chat.completions.create(
            model="base", messages=USER, tools=[add_tool()], tool_choice="required", stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.strip() == "Let me add."
    calls = [tc for c in chunks for tc in c.choices[0].delta.tool_calls or []]
    assert [(c.index, c.function and c.function.name) for c in calls] == [(0, "add")]
    assert calls[0].function is not None and calls[0].function.arguments is not None
    assert json.loads(calls[0].function.arguments) == {"a": 1, "b": 1}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert "You must call at least one tool" in script.calls[0][0]


def test_tools_on_an_openai_space_go_natively(started: Stack) -> None:
    script = scripted_responder([{"tool_calls": [{"name": "add", "arguments": {"a": 4, "b": 5}}]}])
    space, _, sdk = started.one(started.space(responder=script), protocol="openai")
    reply = sdk.chat.completions.create(
        model="base",
        messages=USER,
        tools=[add_tool()],
        tool_choice={"type": "function", "function": {"name": "add"}},
    )
    (call,) = reply.choices[0].message.tool_calls or []
    assert call.function.name == "add"
    assert json.loads(call.function.arguments) == {"a": 4, "b": 5}
    assert reply.choices[0].finish_reason == "tool_calls"
    sent = space.last_request
    assert sent is not None and sent.path == "/v1/chat/completions"
    assert sent.json["tools"] == [add_tool()]
    assert sent.json["tool_choice"] == {"type": "function", "function": {"name": "add"}}
    assert sent.json["messages"] == USER
    assert reply.usage is not None and reply.usage.total_tokens > 0  # the Space counts


def test_tools_stream_on_an_openai_space(started: Stack) -> None:
    script = scripted_responder([{"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]}])
    _, _, sdk = started.one(started.space(responder=script), protocol="openai")
    chunks = list(
        sdk.chat.completions.create(model="base", messages=USER, tools=[add_tool()], stream=True)
    )
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert len(calls) == 1 and calls[0].function is not None
    assert calls[0].function.name == "add"
    assert json.loads(calls[0].function.arguments or "") == {"a": 1, "b": 2}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_json_schema_on_a_text_space_is_validated_and_reasked(started: Stack) -> None:
    script = scripted_responder(['{"city": "Paris"}', '{"city": "Paris", "population": 2100000}'])
    _, _, sdk = started.one(started.space(responder=script))
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    }
    reply = sdk.chat.completions.create(
        model="base",
        messages=[{"role": "user", "content": "Biggest French city?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "City", "schema": schema}},
    )
    assert json.loads(reply.choices[0].message.content or "") == {
        "city": "Paris",
        "population": 2100000,
    }
    assert len(script.calls) == 2
    assert "Your previous answer was" in script.calls[1][0]
    assert script.calls[1][0].startswith("<|im_start|>user\nBiggest French city?")


def test_json_object_on_an_openai_space_goes_natively(started: Stack) -> None:
    script = scripted_responder(['{"ok": true}'])
    space, _, sdk = started.one(started.space(responder=script), protocol="openai")
    reply = sdk.chat.completions.create(
        model="base", messages=USER, response_format={"type": "json_object"}
    )
    assert json.loads(reply.choices[0].message.content or "") == {"ok": True}
    assert space.last_request is not None
    assert space.last_request.json["response_format"] == {"type": "json_object"}


def test_completions_plain_and_streamed(started: Stack) -> None:
    script = scripted_responder(["a slogan for tea", "green and calm"])
    _, _, sdk = started.one(started.space(responder=script))
    done = sdk.completions.create(model="base", prompt="Write a slogan", max_tokens=16)
    assert done.object == "text_completion"
    assert done.choices[0].text == "a slogan for tea"
    assert script.calls[0] == ("Write a slogan", {"max_new_tokens": 16})
    chunks = list(
        sdk.completions.create(
            model="base",
            prompt="Another",
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "green and calm"
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_async_sdk_chat_and_stream(started: Stack) -> None:
    script = scripted_responder(["first answer", "second answer"])
    _, gateway, _ = started.one(started.space(responder=script))

    async def run() -> tuple[str | None, str]:
        async with openai.AsyncOpenAI(base_url=gateway.base_url, api_key="x") as sdk:
            reply = await sdk.chat.completions.create(model="base", messages=USER)
            stream = await sdk.chat.completions.create(model="base", messages=USER, stream=True)
            text = "".join([c.choices[0].delta.content or "" async for c in stream])
            return reply.choices[0].message.content, text

    assert asyncio.run(run()) == ("first answer", "second answer")


@pytest.mark.parametrize("protocol", ["generate", "tgi", "openai"])
def test_every_protocol_answers_chat(started: Stack, protocol: str) -> None:
    script = scripted_responder(["same answer", "same answer"])
    _, _, sdk = started.one(started.space(responder=script), protocol=protocol)
    reply = sdk.chat.completions.create(model="base", messages=USER)
    assert reply.choices[0].message.content == "same answer"
    assert reply.model_extra is not None
    assert reply.model_extra["hf_spaces"]["protocol"] == protocol
    chunks = sdk.chat.completions.create(model="base", messages=USER, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "same answer"


def test_json_object_streamed_on_a_text_space_comes_validated_in_one_piece(started: Stack) -> None:
    script = scripted_responder(['Sure! {"answer": 42} Hope that helps.'])
    _, _, sdk = started.one(started.space(responder=script))
    chunks = list(
        sdk.chat.completions.create(
            model="base", messages=USER, response_format={"type": "json_object"}, stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert json.loads(text) == {"answer": 42}
    assert "JSON" in script.calls[0][0]  # the format instructions went to the Space
