"""HuggingFaceSpaceLLM on the wire: complete, stream, chat and their async twins.

Every test replays a cassette recorded from a real LocalSpace answering from a script
(``make cassettes`` re-records them). The ``sent`` fixture sees the JSON the LLM sent.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core.llms import ChatMessage, MessageRole

from langchain_hf_spaces.testing import scripted_responder
from tests.llama_index.conftest import Sent

pytestmark = pytest.mark.vcr

ANSWER = "Tea is an infusion of cured leaves."
CHAT = [
    ChatMessage(role=MessageRole.SYSTEM, content="You answer in one sentence."),
    ChatMessage(role=MessageRole.USER, content="What is tea?"),
]
CHATML_PROMPT = (
    "<|im_start|>system\nYou answer in one sentence.<|im_end|>\n"
    "<|im_start|>user\nWhat is tea?<|im_end|>\n<|im_start|>assistant\n"
)


def _answer_metadata_ok(meta: dict[str, Any], protocol: str = "generate") -> None:
    assert meta["tier"] == "base"
    assert meta["protocol"] == protocol
    assert meta["attempts"] == 1
    assert meta["latency"] >= 0
    assert meta["url"].startswith("http://127.0.0.1")


def test_complete(recording_url: Callable[..., Any], make_llm: Any, sent: Sent) -> None:
    with recording_url(responder=scripted_responder([ANSWER])) as (url, _):
        llm = make_llm(url, max_new_tokens=16, temperature=0.2)
        response = llm.complete("What is tea?")
    assert response.text == ANSWER
    assert sent.last == {
        "inputs": "What is tea?",
        "parameters": {"max_new_tokens": 16, "temperature": 0.2},
    }
    _answer_metadata_ok(response.additional_kwargs)
    assert response.raw == response.additional_kwargs


def test_complete_call_parameters_override_fields(
    recording_url: Callable[..., Any], make_llm: Any, sent: Sent
) -> None:
    with recording_url(responder=scripted_responder([ANSWER])) as (url, _):
        llm = make_llm(url, max_new_tokens=16, seed=1)
        llm.complete("What is tea?", max_tokens=8, seed=2, context={"audience": "kids"})
    body = sent.last
    assert body["parameters"] == {"max_new_tokens": 8, "seed": 2}
    assert body["inputs"].endswith("What is tea?")
    assert '"audience": "kids"' in body["inputs"]


async def test_acomplete(recording_url: Callable[..., Any], make_llm: Any, sent: Sent) -> None:
    with recording_url(responder=scripted_responder([ANSWER])) as (url, _):
        llm = make_llm(url, max_new_tokens=16)
        response = await llm.acomplete("What is tea?")
    assert response.text == ANSWER
    assert sent.last["inputs"] == "What is tea?"
    _answer_metadata_ok(response.additional_kwargs)


@pytest.mark.parametrize("protocol", ["generate", "tgi"])
def test_stream_complete(recording_url: Callable[..., Any], make_llm: Any, protocol: str) -> None:
    with recording_url(responder=scripted_responder([ANSWER])) as (url, _):
        parts = list(make_llm(url, protocol).stream_complete("What is tea?"))
    deltas = [p.delta for p in parts]
    assert "".join(d or "" for d in deltas).strip() == ANSWER
    assert parts[-1].text.strip() == ANSWER
    # Each part carries the text so far; the last one the answer's metadata.
    for earlier, later in itertools.pairwise(parts):
        assert later.text.startswith(earlier.text)
    _answer_metadata_ok(parts[-1].additional_kwargs, protocol)
    if protocol == "tgi":
        assert len([d for d in deltas if d]) > 1  # real token streaming
        usage = parts[-1].raw["usage"]
        assert usage["completion_tokens"] == len([d for d in deltas if d])


@pytest.mark.parametrize("protocol", ["generate", "tgi"])
async def test_astream_complete(
    recording_url: Callable[..., Any], make_llm: Any, protocol: str
) -> None:
    with recording_url(responder=scripted_responder([ANSWER])) as (url, _):
        gen = await make_llm(url, protocol).astream_complete("What is tea?")
        parts = [p async for p in gen]
    assert "".join(p.delta or "" for p in parts).strip() == ANSWER
    _answer_metadata_ok(parts[-1].additional_kwargs, protocol)


def test_chat_renders_chatml_on_text_space(
    recording_url: Callable[..., Any], make_llm: Any, sent: Sent
) -> None:
    with recording_url(responder=scripted_responder([ANSWER])) as (url, _):
        llm = make_llm(url, stop=["\n\n"])
        response = llm.chat(CHAT)
    assert response.message.role == MessageRole.ASSISTANT
    assert response.message.content == ANSWER
    assert sent.last["inputs"] == CHATML_PROMPT
    # The template's end-of-turn markers go to the Space as stop sequences, with the user's.
    assert sent.last["parameters"]["stop"] == ["<|im_end|>", "<|im_start|>", "\n\n"]
    _answer_metadata_ok(response.additional_kwargs)


def test_chat_cuts_reply_at_end_of_turn(recording_url: Callable[..., Any], make_llm: Any) -> None:
    # A Space that ignores stop sequences keeps talking past its turn; the reply is cut there.
    leaky = ANSWER + "<|im_end|>\n<|im_start|>user\nAnd coffee?"
    with recording_url(responder=scripted_responder([leaky]), truncate=False) as (url, _):
        response = make_llm(url).chat(CHAT)
    assert response.message.content == ANSWER


@pytest.mark.parametrize("protocol", ["generate", "tgi"])
def test_stream_chat(recording_url: Callable[..., Any], make_llm: Any, protocol: str) -> None:
    with recording_url(responder=scripted_responder([ANSWER])) as (url, _):
        parts = list(make_llm(url, protocol).stream_chat(CHAT))
    assert "".join(p.delta or "" for p in parts).strip() == ANSWER
    assert parts[-1].message.content.strip() == ANSWER
    _answer_metadata_ok(parts[-1].additional_kwargs, protocol)


async def test_achat(recording_url: Callable[..., Any], make_llm: Any, sent: Sent) -> None:
    with recording_url(responder=scripted_responder([ANSWER])) as (url, _):
        response = await make_llm(url).achat(CHAT)
    assert response.message.content == ANSWER
    assert sent.last["inputs"] == CHATML_PROMPT


async def test_astream_chat_cuts_split_marker(
    recording_url: Callable[..., Any], make_llm: Any
) -> None:
    # Over TGI the marker arrives token by token; nothing of it may reach the caller.
    leaky = ANSWER + " <|im_end|> <|im_start|>user more"
    with recording_url(responder=scripted_responder([leaky]), truncate=False) as (url, _):
        gen = await make_llm(url, "tgi").astream_chat(CHAT)
        parts = [p async for p in gen]
    text = "".join(p.delta or "" for p in parts)
    assert text.strip() == ANSWER
    assert "<|im" not in text
    assert parts[-1].message.content == text


def test_chat_native_on_openai_space(
    recording_url: Callable[..., Any], make_llm: Any, sent: Sent
) -> None:
    with recording_url(responder=scripted_responder([ANSWER])) as (url, _):
        llm = make_llm(url, "openai", max_new_tokens=20)
        response = llm.chat(CHAT)
        assert llm.metadata.is_chat_model
    assert response.message.content == ANSWER
    body = sent.last
    assert body["messages"] == [
        {"role": "system", "content": "You answer in one sentence."},
        {"role": "user", "content": "What is tea?"},
    ]
    _answer_metadata_ok(response.additional_kwargs, "openai")


async def test_astream_chat_native_on_openai_space(
    recording_url: Callable[..., Any], make_llm: Any, sent: Sent
) -> None:
    with recording_url(responder=scripted_responder([ANSWER])) as (url, _):
        gen = await make_llm(url, "openai").astream_chat(CHAT)
        parts = [p async for p in gen]
    assert "".join(p.delta or "" for p in parts).strip() == ANSWER
    assert sent.last["stream"] is True
    _answer_metadata_ok(parts[-1].additional_kwargs, "openai")
