"""ChatHuggingFaceSpace on text Spaces: templates, end-of-turn cut, tools, structured output."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel

from langchain_hf_spaces import SpaceInputError
from langchain_hf_spaces._chat_templates import MarkerCutter, chat_template
from langchain_hf_spaces._lc_messages import parse_tool_reply
from langchain_hf_spaces._tools import normalize_tool_choice
from langchain_hf_spaces.chat_models import ChatHuggingFaceSpace
from langchain_hf_spaces.testing import LocalSpace, scripted_responder

MSGS = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]


def test_presets_render_and_mark_end_of_turn() -> None:
    assert chat_template("chatml")(MSGS).endswith("<|im_start|>assistant\n")
    llama = chat_template("llama3")
    assert llama(MSGS).startswith("<|begin_of_text|><|start_header_id|>system")
    assert "<|eot_id|>" in llama.end_of_turn
    assert chat_template("zephyr")(MSGS) == "<|system|>\nS</s>\n<|user|>\nU</s>\n<|assistant|>\n"


def test_jinja_and_callable_templates() -> None:
    jinja = "{% for m in messages %}{{ m.role }}: {{ m.content }}{{ eos_token }}{% endfor %}A:"
    t = chat_template(jinja, eos_token="<END>")
    assert t(MSGS) == "system: S<END>user: U<END>A:" and t.end_of_turn == ("<END>",)
    c = chat_template(lambda ms: "|".join(m["content"] for m in ms), end_of_turn=["##"])
    assert c(MSGS) == "S|U" and c.end_of_turn == ("##",)
    with pytest.raises(SpaceInputError.__mro__[1]):  # SpaceConfigError
        chat_template("not-a-preset")


def test_marker_cutter_handles_split_markers() -> None:
    cutter = MarkerCutter(["<|im_end|>"])
    out = "".join(cutter.feed(p) for p in ["Hel", "lo<|im", "_end|>tail"]) + cutter.flush()
    assert out == "Hello" and cutter.done


def test_tool_reply_parsing_valid_invalid_and_plain() -> None:
    content, calls, bad = parse_tool_reply(
        'Sure.\n```json\n{"tool_calls": [{"name": "add", "arguments": {"a": 1}}]}\n```', ["add"]
    )
    assert calls[0]["name"] == "add" and calls[0]["args"] == {"a": 1} and not bad
    assert content.startswith("Sure.")
    _, calls, bad = parse_tool_reply('{"tool_calls": [{"name": "add", "arguments": {', ["add"])
    assert not calls and bad and "not valid JSON" in (bad[0]["error"] or "")
    _, calls, bad = parse_tool_reply('{"tool_calls": [{"name": "rm", "arguments": {}}]}', ["add"])
    assert not calls and "Unknown tool" in (bad[0]["error"] or "")
    assert parse_tool_reply("just text", ["add"]) == ("just text", [], [])
    # same reply -> same ids (cassettes replay byte for byte)
    a = parse_tool_reply('{"name": "add", "arguments": {}}', ["add"])[1][0]["id"]
    assert a == parse_tool_reply('{"name": "add", "arguments": {}}', ["add"])[1][0]["id"]


def test_tool_choice_forms() -> None:
    tools = [{"type": "function", "function": {"name": "add"}}]
    assert normalize_tool_choice("any", tools).mode == "required"
    assert normalize_tool_choice(True, tools).mode == "required"
    assert normalize_tool_choice("add", tools).name == "add"
    assert normalize_tool_choice({"type": "function", "function": {"name": "add"}}, tools).name
    assert normalize_tool_choice("none", tools).mode == "none"
    with pytest.raises(SpaceInputError, match="not bound"):
        normalize_tool_choice("sub", tools)


class Person(BaseModel):
    name: str
    age: int


@pytest.fixture
def scripted() -> Iterator[Any]:
    def make(*answers: str) -> LocalSpace:
        return LocalSpace(responder=scripted_responder(list(answers)))

    yield make


def test_reply_cut_at_end_of_turn_and_tools(scripted: Any) -> None:
    with scripted(
        "Hi!", '{"tool_calls": [{"name": "Person", "arguments": {"name": "A", "age": 1}}]}'
    ) as space:
        chat = ChatHuggingFaceSpace(space_url=space.url)
        assert chat.invoke([SystemMessage("be nice"), HumanMessage("hello")]).content == "Hi!"
        sent = space.last_request.json
        assert sent["parameters"]["stop"] == ["<|im_end|>", "<|im_start|>"]
        assert sent["inputs"].startswith("<|im_start|>system\nbe nice<|im_end|>")
        assert chat.with_structured_output(Person).invoke("who?") == Person(name="A", age=1)
        prompt = space.last_request.json["inputs"]
        assert 'You must call the tool "Person"' in prompt


def test_structured_output_json_schema_include_raw(scripted: Any) -> None:
    with scripted('{"name": "B", "age": 2}', "not json") as space:
        chat = ChatHuggingFaceSpace(space_url=space.url)
        structured = chat.with_structured_output(Person, method="json_schema", include_raw=True)
        ok = structured.invoke("who?")
        assert ok["parsed"] == Person(name="B", age=2) and ok["parsing_error"] is None
        assert "# Output format" in space.last_request.json["inputs"]
        bad = structured.invoke("who?")
        assert bad["parsed"] is None and bad["parsing_error"] is not None


def test_stream_with_tools_gives_tool_call_chunks(scripted: Any) -> None:
    with scripted(
        '{"tool_calls": [{"name": "Person", "arguments": {"name": "C", "age": 3}}]}'
    ) as s:
        chat = ChatHuggingFaceSpace(space_url=s.url).bind_tools([Person], tool_choice="any")
        chunks = list(chat.stream("who?"))
        assert chunks[-1].chunk_position == "last"
        merged = chunks[0]
        for c in chunks[1:]:
            merged = merged + c
        assert merged.tool_calls[0]["args"] == {"name": "C", "age": 3}


def test_non_text_content_is_a_clear_error(scripted: Any) -> None:
    with scripted("x") as space:
        chat = ChatHuggingFaceSpace(space_url=space.url)
        image = {"type": "image", "url": "https://example.com/a.png"}
        with pytest.raises(SpaceInputError, match="takes text only"):
            chat.invoke([HumanMessage(content=[image])])
