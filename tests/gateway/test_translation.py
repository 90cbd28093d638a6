"""The gateway's I/O-free halves: OpenAI bodies in, our calls out, errors mapped."""

from __future__ import annotations

import pytest

from langchain_hf_spaces._answers import SpaceAnswer, StreamChunk
from langchain_hf_spaces._chat_templates import chat_template
from langchain_hf_spaces.errors import (
    HFSpacesError,
    SpaceAuthError,
    SpaceConnectionError,
    SpaceInputError,
    SpaceNotFoundError,
    SpacePausedError,
    SpaceQuotaError,
    SpaceRateLimitError,
    SpaceResponseError,
    SpacesDisabledError,
    SpaceTimeoutError,
    SpaceUnavailableError,
)
from langchain_hf_spaces.gateway._chat import ChatPlan, ReplyAssembler, render_conversation
from langchain_hf_spaces.gateway._openai import (
    GatewayError,
    error_for,
    finish_reason,
    parse_chat_request,
    parse_completion_request,
)

URL = "https://acme-base.hf.space"


PLACE: dict[str, str] = {"tier": "base", "url": URL}


@pytest.mark.parametrize(
    ("exc", "status", "code", "retry_after"),
    [
        (SpaceInputError("bad", **PLACE), 400, None, None),
        (SpaceRateLimitError("x", retry_after=2.2, **PLACE), 429, "rate_limit_exceeded", "3"),
        (SpaceRateLimitError("x", **PLACE), 429, "rate_limit_exceeded", None),
        (SpaceQuotaError("quota", retry_after=588, **PLACE), 429, "insufficient_quota", "588"),
        (SpaceUnavailableError("asleep", **PLACE), 503, "space_unavailable", "30"),
        (SpaceConnectionError("refused", **PLACE), 503, "space_unavailable", "30"),
        (SpacePausedError("paused", **PLACE), 503, "space_down", None),
        (SpacesDisabledError("off", **PLACE), 503, "spaces_disabled", None),
        (SpaceTimeoutError("slow", **PLACE), 504, "space_timeout", None),
        (SpaceAuthError("refused", **PLACE), 502, "space_auth_failed", None),
        (SpaceNotFoundError("404", **PLACE), 502, "space_error", None),
        (SpaceResponseError("garbled", **PLACE), 502, "space_error", None),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None,
)
def test_error_mapping(
    exc: HFSpacesError, status: int, code: str | None, retry_after: str | None
) -> None:
    err = error_for(exc)
    assert (err.status, err.code) == (status, code)
    assert err.headers.get("Retry-After") == retry_after
    body = err.body()["error"]
    assert set(body) == {"message", "type", "param", "code"}
    assert URL in body["message"] and "tier 'base'" in body["message"]
    assert "Hint:" in body["message"] or isinstance(exc, SpaceInputError)


def test_rate_limit_retry_after_is_rounded_up() -> None:
    err = error_for(SpaceRateLimitError("x", retry_after=2.2, tier="base", url=URL))
    assert err.headers == {"Retry-After": "3"}


def test_chat_request_maps_openai_parameters_to_ours() -> None:
    req = parse_chat_request(
        {
            "model": "base",
            "messages": [{"role": "user", "content": "hi"}],
            "max_completion_tokens": 12,
            "temperature": 0,
            "stop": "END",
            "seed": 3,
            "user": "u-1",
            "parallel_tool_calls": True,
            "frequency_penalty": 0.1,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )
    assert req.params == {"max_new_tokens": 12, "temperature": 0, "stop": ["END"], "seed": 3}
    assert req.native_params == {"frequency_penalty": 0.1}
    assert req.stream and req.include_usage


def test_both_max_tokens_fields_are_refused() -> None:
    with pytest.raises(GatewayError) as caught:
        parse_chat_request(
            {
                "model": "b",
                "messages": [{"role": "user"}],
                "max_tokens": 1,
                "max_completion_tokens": 2,
            }
        )
    assert caught.value.param == "max_completion_tokens"


def test_completion_prompt_forms() -> None:
    assert parse_completion_request({"model": "b", "prompt": ["one"]}).prompt == "one"
    for bad, param in [
        ({"model": "b", "prompt": ["a", "b"]}, "prompt"),
        ({"model": "b", "prompt": "a", "echo": True}, "echo"),
        ({"model": "b", "prompt": "a", "best_of": 3}, "best_of"),
    ]:
        with pytest.raises(GatewayError) as caught:
            parse_completion_request(bad)
        assert caught.value.status == 400 and caught.value.param == param


def test_a_conversation_renders_tool_turns_in_the_protocol_form() -> None:
    turns = render_conversation(
        [
            {"role": "developer", "content": "Be exact."},
            {"role": "user", "content": [{"type": "text", "text": "2+3?"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "5"},
        ],
        "# Tools ...",
    )
    assert turns == [
        {"role": "system", "content": "Be exact.\n\n# Tools ..."},
        {"role": "user", "content": "2+3?"},
        {
            "role": "assistant",
            "content": '{"tool_calls": [{"arguments": {"a": 2, "b": 3}, "name": "add"}]}',
        },
        {"role": "tool", "content": "Result of tool 'add' (call call_1):\n5"},
    ]


def test_an_image_part_for_a_text_space_is_a_400() -> None:
    with pytest.raises(GatewayError) as caught:
        render_conversation(
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}], ""
        )
    assert caught.value.param == "messages[0].content[0]"


def _answer(text: str, **kw: object) -> SpaceAnswer:
    return SpaceAnswer(text, "base", URL, None, "generate", 0.1, 1, **kw)  # type: ignore[arg-type]


def test_the_assembler_streams_text_until_a_tool_call_and_parses_it() -> None:
    plan = ChatPlan(
        native=False,
        params={},
        cut_markers=chat_template("chatml").end_of_turn,
        tool_names=["add"],
        parse_tools=True,
    )
    assembler = ReplyAssembler(plan)
    shown = [
        assembler.feed(StreamChunk(piece))
        for piece in ["Sure. ", '{"tool_calls": [{"name": "add", ', '"arguments": {"a": 1}}]}']
    ]
    shown.append(assembler.feed(StreamChunk("<|im_end|>ignored", _answer("..."))))
    assert "".join(shown) == "Sure. "
    assert assembler.done
    reply = assembler.finish()
    assert [c["function"] for c in reply.tool_calls] == [{"name": "add", "arguments": '{"a": 1}'}]
    assert reply.tool_calls[0]["id"].startswith("call_")
    assert finish_reason(reply.answer, tool_calls=True, cut=reply.cut) == "tool_calls"


def test_a_tool_call_without_a_name_stays_text() -> None:
    plan = ChatPlan(native=False, params={}, tool_names=["add"], parse_tools=True)
    assembler = ReplyAssembler(plan)
    assembler.feed(StreamChunk('{"tool_calls": [{"arguments": {}}]}', _answer("")))
    reply = assembler.finish()
    assert reply.tool_calls == []
    assert '"arguments": {}' in reply.content


def test_finish_reason_length_unless_cut() -> None:
    assert finish_reason(_answer("x", finish_reason="length"), tool_calls=False, cut=False) == (
        "length"
    )
    assert finish_reason(_answer("x", finish_reason="length"), tool_calls=False, cut=True) == (
        "stop"
    )
    assert finish_reason(_answer("x", finish_reason="eos_token"), tool_calls=False, cut=False) == (
        "stop"
    )
