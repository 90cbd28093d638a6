"""LangChain messages and tool calls to and from the plain forms of the core.

The core speaks plain data: chat templates render ``{"role", "content"}`` dicts, the tool prompt
protocol (:mod:`langchain_hf_spaces._tools`) takes dict tool specs and gives
``{"id", "name", "arguments"}`` dicts. This module is the LangChain side of both:
``BaseMessage`` lists become rendered dicts, plain tool calls become ``ToolCall`` /
``InvalidToolCall``, and token counts become ``UsageMetadata``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    InvalidToolCall,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import invalid_tool_call, tool_call

from langchain_hf_spaces import _tools
from langchain_hf_spaces._tools import (
    InvalidToolCallDict,
    ToolCallDict,
    render_tool_calls,
    render_tool_result,
)
from langchain_hf_spaces.client import SpaceAnswer
from langchain_hf_spaces.errors import SpaceInputError

__all__ = [
    "native_tool_calls",
    "parse_tool_reply",
    "render_messages",
    "text_of",
    "to_invalid_tool_calls",
    "to_tool_calls",
    "usage_metadata",
]


def to_tool_calls(calls: Sequence[ToolCallDict]) -> list[ToolCall]:
    """Plain tool calls as LangChain's ``ToolCall`` (``arguments`` become ``args``)."""
    return [tool_call(name=c["name"], args=c["arguments"], id=c["id"]) for c in calls]


def to_invalid_tool_calls(invalid: Sequence[InvalidToolCallDict]) -> list[InvalidToolCall]:
    """Plain invalid tool calls as LangChain's ``InvalidToolCall``."""
    return [
        invalid_tool_call(name=c["name"], args=c["arguments"], id=c["id"], error=c["error"])
        for c in invalid
    ]


def parse_tool_reply(
    text: str, tool_names: Sequence[str]
) -> tuple[str, list[ToolCall], list[InvalidToolCall]]:
    """:func:`langchain_hf_spaces._tools.parse_tool_reply` in LangChain's types."""
    content, calls, invalid = _tools.parse_tool_reply(text, tool_names)
    return content, to_tool_calls(calls), to_invalid_tool_calls(invalid)


def native_tool_calls(answer: SpaceAnswer) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """The tool calls of a chat-native Space's answer, in LangChain's types."""
    calls, invalid = _tools.parse_native_tool_calls(answer.tool_calls)
    return to_tool_calls(calls), to_invalid_tool_calls(invalid)


def usage_metadata(answer: SpaceAnswer) -> UsageMetadata | None:
    """Token counts as LangChain's ``UsageMetadata``, when the Space reported both.

    ``UsageMetadata`` has no room for an unknown count, and a made-up 0 would mislead cost
    tracking: a Space that counts only the reply (TGI without ``decoder_input_details``) gives
    no ``usage_metadata``; the counts it did report stay in ``response_metadata``.
    """
    inp, out = answer.prompt_tokens, answer.completion_tokens
    if inp is None or out is None:
        return None
    return cast(
        "UsageMetadata", {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out}
    )


def text_of(message: BaseMessage) -> str:
    """The text of a message; a non-text content block is a :class:`SpaceInputError`."""
    content = message.content
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, Mapping):
            kind = block.get("type")
            if kind == "text" and isinstance(block.get("text"), str):
                parts.append(block["text"])
            elif kind in ("tool_use", "tool_call", "function_call"):
                continue  # rendered from message.tool_calls
            else:
                raise SpaceInputError(
                    f"a {type(message).__name__} holds a {kind!r} content block; this Space "
                    "takes text only.",
                    hint="Send text, or use a Space with an openai-protocol multimodal model.",
                )
    return "".join(parts)


def render_messages(messages: Sequence[BaseMessage], system_extra: str) -> list[dict[str, str]]:
    """A conversation as the dicts a chat template renders; ``system_extra`` (tool or format
    instructions) joins the system message, or becomes one."""
    out: list[dict[str, str]] = []
    names: dict[str, str] = {}
    for message in messages:
        if isinstance(message, SystemMessage):
            out.append({"role": "system", "content": text_of(message)})
        elif isinstance(message, HumanMessage):
            out.append({"role": "user", "content": text_of(message)})
        elif isinstance(message, AIMessage):
            text = text_of(message)
            if message.tool_calls:
                for call in message.tool_calls:
                    if call.get("id"):
                        names[str(call["id"])] = call["name"]
                calls = render_tool_calls(
                    [{"name": c["name"], "arguments": c["args"]} for c in message.tool_calls]
                )
                text = f"{text}\n{calls}" if text.strip() else calls
            out.append({"role": "assistant", "content": text})
        elif isinstance(message, ToolMessage):
            name = message.name or names.get(message.tool_call_id)
            content = text_of(message)
            out.append(
                {
                    "role": "tool",
                    "content": render_tool_result(content, name=name, call_id=message.tool_call_id),
                }
            )
        elif isinstance(message, ChatMessage):
            out.append({"role": message.role, "content": text_of(message)})
        else:
            raise SpaceInputError(
                f"message type {type(message).__name__} is not supported by ChatHuggingFaceSpace."
            )
    if system_extra:
        if out and out[0]["role"] == "system":
            out[0] = {"role": "system", "content": out[0]["content"] + "\n\n" + system_extra}
        else:
            out.insert(0, {"role": "system", "content": system_extra})
    return out
