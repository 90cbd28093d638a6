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


# ------------------------------------------------- #15.2: structured output never None silently
@pytest.mark.parametrize(
    "reply",
    [
        '{"name": "D", "age": 4}',
        'Here you go:\n```json\n{"name": "D", "age": 4}\n```',
        '{"name": "Person", "parameters": {"name": "D", "age": 4}}',
    ],
)
def test_default_structured_output_parses_what_models_answer(scripted: Any, reply: str) -> None:
    with scripted(reply) as space:
        chat = ChatHuggingFaceSpace(space_url=space.url)
        assert chat.with_structured_output(Person).invoke("who?") == Person(name="D", age=4)


def test_default_structured_output_on_prose_raises_or_reports(scripted: Any) -> None:
    from langchain_core.exceptions import OutputParserException

    with scripted("I do not know.", "I do not know.") as space:
        chat = ChatHuggingFaceSpace(space_url=space.url)
        with pytest.raises(OutputParserException, match="no tool call and no JSON"):
            chat.with_structured_output(Person).invoke("who?")
        out = chat.with_structured_output(Person, include_raw=True).invoke("who?")
        assert out["parsed"] is None and isinstance(out["parsing_error"], OutputParserException)


def test_default_structured_output_for_a_json_schema_dict(scripted: Any) -> None:
    with scripted('{"name": "E", "age": 5}') as space:
        chat = ChatHuggingFaceSpace(space_url=space.url)
        schema = Person.model_json_schema()
        assert chat.with_structured_output(schema).invoke("who?") == {"name": "E", "age": 5}


# ------------------------------------------------------------------ #15.8: tools on text Spaces
@pytest.mark.parametrize(
    ("reply", "content"),
    [
        ('Sure.\n```json\n{"name": "add", "arguments": {"a": 1}}\n```', "Sure."),
        ('<tool_call>\n{"name": "add", "arguments": {"a": 1}}\n</tool_call>', ""),
        ('[{"name": "add", "arguments": {"a": 1}}]', ""),
        ('{"name": "add", "parameters": {"a": 1}}', ""),
        ('```json\n{"tool_calls": [{"name": "add", "arguments": {"a": 1}}]}\n```', ""),
    ],
)
def test_tool_replies_leave_no_residue(reply: str, content: str) -> None:
    text, calls, bad = parse_tool_reply(reply, ["add"])
    assert [c["args"] for c in calls] == [{"a": 1}] and not bad
    assert text == content


def test_several_qwen_tool_call_blocks() -> None:
    reply = (
        '<tool_call>\n{"name": "add", "arguments": {"a": 1}}\n</tool_call>\n'
        '<tool_call>\n{"name": "add", "arguments": {"a": 2}}\n</tool_call>'
    )
    text, calls, bad = parse_tool_reply(reply, ["add"])
    assert [c["args"] for c in calls] == [{"a": 1}, {"a": 2}] and text == "" and not bad


def test_tool_call_detector_streams_text_then_buffers() -> None:
    from langchain_hf_spaces._tools import ToolCallDetector

    det = ToolCallDetector()
    shown = [det.feed(d) for d in ["Let me ", "check. `", "``json\n", '{"name": "add"', "}\n```"]]
    assert shown[:2] == ["Let me ", "check. "] and det.buffering
    assert "".join(shown) == "Let me check. "
    assert det.flush() == '```json\n{"name": "add"}\n```'
    plain = ToolCallDetector()
    assert "".join(plain.feed(d) for d in ["a <b", "> c"]) + plain.flush() == "a <b> c"


def test_text_streams_when_tools_are_bound(scripted: Any) -> None:
    answer = " ".join(f"w{i}" for i in range(30))
    with scripted(answer) as space:
        chat = ChatHuggingFaceSpace(space_url=space.url, protocol="tgi").bind_tools([Person])
        chunks = [c for c in chat.stream("hi") if c.content]
        assert len(chunks) > 10
        streamed = "".join(str(c.content) for c in chunks)
        assert streamed.startswith("w0 w1 w2") and answer.startswith(streamed)


def test_stream_with_text_then_a_tool_call(scripted: Any) -> None:
    reply = 'Looking it up.\n{"name": "Person", "arguments": {"name": "F", "age": 6}}'
    with scripted(reply) as space:
        chat = ChatHuggingFaceSpace(space_url=space.url, protocol="tgi").bind_tools([Person])
        chunks = list(chat.stream("who?"))
        merged = chunks[0]
        for c in chunks[1:]:
            merged = merged + c
        assert merged.tool_calls[0]["args"] == {"name": "F", "age": 6}
        assert str(merged.content).strip() == "Looking it up."
        assert '"name"' not in "".join(str(c.content) for c in chunks)


def test_openai_malformed_tool_arguments_survive_streaming() -> None:
    bad = {"tool_calls": [{"name": "Person", "arguments": '{"name": "G", "age": '}]}
    with LocalSpace(responder=scripted_responder([bad, bad])) as space:
        chat = ChatHuggingFaceSpace(space_url=space.url, protocol="openai").bind_tools([Person])
        invoked = chat.invoke("who?")
        assert invoked.invalid_tool_calls and not invoked.tool_calls
        chunks = list(chat.stream("who?"))
        merged = chunks[0]
        for c in chunks[1:]:
            merged = merged + c
        assert merged.tool_call_chunks
        assert merged.invalid_tool_calls or merged.tool_calls  # LangChain's aggregation decides
        assert (merged.invalid_tool_calls or merged.tool_calls)[0]["name"] == "Person"


def test_stream_with_tools_keeps_the_held_back_tail(scripted: Any) -> None:
    with scripted("The sum is 5.") as space:
        chat = ChatHuggingFaceSpace(space_url=space.url, protocol="tgi").bind_tools([Person])
        assert "".join(str(c.content) for c in chat.stream("Thanks!")) == "The sum is 5."


def test_usage_metadata_only_when_both_counts_are_known() -> None:
    """No made-up 0 for a count the Space did not report (#15.11): TGI counts only the reply."""
    from langchain_hf_spaces._answers import SpaceAnswer
    from langchain_hf_spaces._lc_messages import usage_metadata

    def answer(prompt: int | None, reply: int | None) -> SpaceAnswer:
        return SpaceAnswer(
            text="x", tier="base", url="http://s", revision=None, protocol="tgi", latency=0.1,
            attempts=1, prompt_tokens=prompt, completion_tokens=reply,
        )  # fmt: skip

    assert usage_metadata(answer(3, 2)) == {
        "input_tokens": 3,
        "output_tokens": 2,
        "total_tokens": 5,
    }
    assert usage_metadata(answer(None, 2)) is None
    with LocalSpace() as space:
        chat = ChatHuggingFaceSpace(space_url=space.url, protocol="tgi", max_new_tokens=8)
        message = chat.invoke("Hello")
    assert message.content
    assert message.usage_metadata is None
