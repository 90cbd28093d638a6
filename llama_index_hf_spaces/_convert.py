"""Conversions between LlamaIndex's types and the core's, with no I/O.

Messages go out as one prompt (text Spaces, through a chat template) or as OpenAI-style
message dicts (chat-native Spaces); :class:`~langchain_hf_spaces.client.SpaceAnswer` and
:class:`~langchain_hf_spaces.client.StreamChunk` come back as ``CompletionResponse``,
``ChatResponse`` (cut at end-of-turn markers) and ``ToolSelection``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    MessageRole,
    TextBlock,
)
from llama_index.core.llms.llm import ToolSelection

from langchain_hf_spaces._chat_templates import ChatTemplate, MarkerCutter, cut_at_markers
from langchain_hf_spaces.client import SpaceAnswer, StreamChunk
from langchain_hf_spaces.errors import HFSpacesError, SpaceInputError
from llama_index_hf_spaces._tool_prompt import TextTools, ToolStreamSplitter

__all__ = [
    "TemplatePrompt",
    "achat_stream",
    "acompletion_stream",
    "chat_response",
    "chat_stream",
    "check_text_only",
    "completion_response",
    "completion_stream",
    "native_messages",
    "tool_selections",
]

# ChatML role names for LlamaIndex's roles (text Spaces) and OpenAI's (chat-native Spaces).
_ROLES: dict[str, str] = {
    MessageRole.SYSTEM.value: "system",
    MessageRole.DEVELOPER.value: "system",
    MessageRole.USER.value: "user",
    MessageRole.ASSISTANT.value: "assistant",
    MessageRole.MODEL.value: "assistant",
    MessageRole.CHATBOT.value: "assistant",
    MessageRole.TOOL.value: "tool",
    MessageRole.FUNCTION.value: "tool",
}

# ------------------------------------------------------------------ messages out


class TemplatePrompt:
    """``messages_to_prompt`` from a shared :class:`ChatTemplate` (ChatML by default)."""

    __slots__ = ("template",)

    def __init__(self, template: ChatTemplate) -> None:
        self.template = template

    def __call__(self, messages: Sequence[ChatMessage]) -> str:
        return self.template(
            [{"role": _ROLES[m.role.value], "content": m.content or ""} for m in messages]
        )

    def __repr__(self) -> str:
        return f"<chat template {self.template.name}>"


def check_text_only(messages: Sequence[ChatMessage], *, tier: str, url: str | None) -> None:
    """Refuse images, audio and documents: a Space takes text."""
    for message in messages:
        for block in message.blocks:
            if not isinstance(block, TextBlock):
                raise SpaceInputError(
                    f"a {message.role.value} message holds a {type(block).__name__}; this "
                    "Space takes text only.",
                    tier=tier,
                    url=url,
                )


def native_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """The messages as OpenAI chat dicts (tool calls and tool results included)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.role.value
        entry: dict[str, Any] = {
            "role": role if role in ("system", "user", "assistant", "tool") else _ROLES[role],
            "content": message.content or "",
        }
        for key in ("tool_call_id", "name"):
            if key in message.additional_kwargs:
                entry[key] = message.additional_kwargs[key]
        calls = message.additional_kwargs.get("tool_calls")
        if calls:
            entry["tool_calls"] = [_openai_tool_call(c) for c in calls]
        out.append(entry)
    return out


def _openai_tool_call(call: Mapping[str, Any]) -> dict[str, Any]:
    """A tool call as the core reports it (``id``, ``name``, ``arguments``) in OpenAI's form."""
    if "function" in call:
        return dict(call)
    arguments = call.get("arguments", {})
    return {
        "id": call.get("id"),
        "type": "function",
        "function": {
            "name": call.get("name"),
            "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
        },
    }


# ------------------------------------------------------------------ answers in


def _metadata(answer: SpaceAnswer) -> dict[str, Any]:
    """The answer's metadata; its tool calls travel on the message, not here."""
    meta = answer.metadata
    meta.pop("tool_calls", None)
    return meta


def _raw(answer: SpaceAnswer, metadata: dict[str, Any]) -> dict[str, Any]:
    raw = dict(metadata)
    if answer.prompt_tokens is not None or answer.completion_tokens is not None:
        usage = {
            "prompt_tokens": answer.prompt_tokens,
            "completion_tokens": answer.completion_tokens,
        }
        raw["usage"] = {k: v for k, v in usage.items() if v is not None}
    return raw


def completion_response(answer: SpaceAnswer) -> CompletionResponse:
    meta = _metadata(answer)
    return CompletionResponse(text=answer.text, raw=_raw(answer, meta), additional_kwargs=meta)


def chat_response(
    answer: SpaceAnswer, markers: tuple[str, ...], tools: TextTools | None = None
) -> ChatResponse:
    """The answer as an assistant message, cut at the first end-of-turn marker; on a text
    Space with ``tools``, the reply's tool calls parsed out of the text."""
    text = cut_at_markers(answer.text, markers)[0] if markers else answer.text
    extra: dict[str, Any] = {}
    if answer.tool_calls:
        extra["tool_calls"] = answer.tool_calls
    if tools is not None:
        text, calls, invalid = tools.parse(text)
        _put_calls(extra, calls, invalid)
    message = ChatMessage(role=MessageRole.ASSISTANT, content=text, additional_kwargs=extra)
    meta = _metadata(answer)
    return ChatResponse(message=message, raw=_raw(answer, meta), additional_kwargs=meta)


def _put_calls(extra: dict[str, Any], calls: list[Any], invalid: list[Any]) -> None:
    if calls:
        extra["tool_calls"] = calls
    if invalid:
        extra["invalid_tool_calls"] = invalid


def tool_selections(response: ChatResponse, *, error_on_no_tool_call: bool) -> list[ToolSelection]:
    """The tool calls of a chat answer from a native (``openai``) Space."""
    kwargs = response.message.additional_kwargs
    calls = kwargs.get("tool_calls") or []
    if not calls and error_on_no_tool_call:
        invalid = kwargs.get("invalid_tool_calls") or []
        reasons = "; ".join(str(i.get("error")) for i in invalid)
        why = f" (invalid tool calls: {reasons})" if reasons else ""
        raise ValueError(f"Expected at least one tool call, got: {response.message.content!r}{why}")
    selections = []
    for call in calls:
        arguments = call.get("arguments")
        selections.append(
            ToolSelection(
                tool_id=str(call.get("id", "")),
                tool_name=str(call.get("name", "")),
                tool_kwargs=arguments if isinstance(arguments, dict) else {},
            )
        )
    return selections


# ------------------------------------------------------------------ streams in


def _completion_chunk(text: str, delta: str, chunk: StreamChunk) -> CompletionResponse:
    answer = chunk.answer
    if answer is None:
        return CompletionResponse(text=text, delta=delta)
    meta = _metadata(answer)
    return CompletionResponse(
        text=text, delta=delta, raw=_raw(answer, meta), additional_kwargs=meta
    )


class _ChatStream:
    """Turns stream chunks into :class:`ChatResponse` objects, cutting at end-of-turn markers
    (a marker split across chunks is held back until it is clear it is not one)."""

    __slots__ = ("cutter", "splitter", "text")

    def __init__(self, markers: tuple[str, ...], tools: TextTools | None) -> None:
        self.cutter = MarkerCutter(markers)
        self.splitter = ToolStreamSplitter(tools) if tools is not None and tools.parses else None
        self.text = ""

    def response(self, chunk: StreamChunk) -> ChatResponse:
        answer = chunk.answer
        delta = self.cutter.feed(chunk.text)
        if answer is not None:
            delta += self.cutter.flush()
        splitter = self.splitter
        if splitter is None:
            return self._response(delta, answer)
        delta = splitter.feed(delta)
        if answer is None:
            return self._response(delta, None)
        rest, content, calls, invalid = splitter.finish()
        self.text += delta
        response = self._response(rest, answer)
        response.message.content = content
        response.delta = delta + rest
        _put_calls(response.message.additional_kwargs, calls, invalid)
        return response

    def rest(self) -> ChatResponse | None:
        """What was held back, when the stream breaks: it arrived, so the caller gets it."""
        delta = self.cutter.flush()
        if self.splitter is not None:
            delta = self.splitter.held() + delta
        return self._response(delta, None) if delta else None

    def _response(self, delta: str, answer: SpaceAnswer | None) -> ChatResponse:
        self.text += delta
        message = ChatMessage(role=MessageRole.ASSISTANT, content=self.text)
        if answer is None:
            return ChatResponse(message=message, delta=delta)
        if answer.tool_calls:
            message.additional_kwargs["tool_calls"] = answer.tool_calls
        meta = _metadata(answer)
        return ChatResponse(
            message=message, delta=delta, raw=_raw(answer, meta), additional_kwargs=meta
        )


def completion_stream(chunks: Iterator[StreamChunk]) -> CompletionResponseGen:
    text = ""
    for chunk in chunks:
        text += chunk.text
        yield _completion_chunk(text, chunk.text, chunk)


async def acompletion_stream(chunks: AsyncIterator[StreamChunk]) -> CompletionResponseAsyncGen:
    text = ""
    async for chunk in chunks:
        text += chunk.text
        yield _completion_chunk(text, chunk.text, chunk)


def chat_stream(
    chunks: Iterator[StreamChunk], markers: tuple[str, ...], tools: TextTools | None = None
) -> ChatResponseGen:
    stream = _ChatStream(markers, tools)
    try:
        for chunk in chunks:
            yield stream.response(chunk)
    except HFSpacesError:
        rest = stream.rest()
        if rest is not None:
            yield rest
        raise


async def achat_stream(
    chunks: AsyncIterator[StreamChunk], markers: tuple[str, ...], tools: TextTools | None = None
) -> ChatResponseAsyncGen:
    stream = _ChatStream(markers, tools)
    try:
        async for chunk in chunks:
            yield stream.response(chunk)
    except HFSpacesError:
        rest = stream.rest()
        if rest is not None:
            yield rest
        raise
