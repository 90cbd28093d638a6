"""Tools on text Spaces for LlamaIndex: the shared prompt protocol of
:mod:`langchain_hf_spaces._tools` in LlamaIndex's types (no I/O).

A text Space cannot take OpenAI tool schemas, so the tools are described in the system prompt,
earlier tool calls and tool results are rendered back in the protocol's form, and the reply is
parsed into tool calls (``{"id", "name", "arguments"}`` dicts, the shape of
:attr:`~langchain_hf_spaces.client.SpaceAnswer.tool_calls`, on
``message.additional_kwargs["tool_calls"]``). In a stream, text is passed on until a tool call
may begin; from there it is held back and parsed at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole

from langchain_hf_spaces._structured import StructuredParseError, extract_json
from langchain_hf_spaces._tools import (
    InvalidToolCallDict,
    ToolCallDetector,
    ToolCallDict,
    ToolChoice,
    normalize_tool_choice,
    openai_tool_choice,
    parse_tool_reply,
    render_tool_calls,
    render_tool_result,
    tool_system_prompt,
)

__all__ = ["TextTools", "ToolStreamSplitter", "native_tool_choice", "text_tools"]


@dataclass(frozen=True, slots=True)
class TextTools:
    """The tools of one call on a text Space and the ``tool_choice`` that applies."""

    specs: tuple[Mapping[str, Any], ...]
    choice: ToolChoice

    @property
    def names(self) -> list[str]:
        return [str(spec.get("function", spec).get("name", "")) for spec in self.specs]

    @property
    def parses(self) -> bool:
        """False for ``tool_choice="none"``: the reply is plain text."""
        return self.choice.mode != "none"

    @property
    def forced(self) -> str | None:
        """The one tool the model must call, when there is exactly one."""
        if self.choice.mode == "function":
            return self.choice.name
        names = self.names
        return names[0] if self.choice.mode == "required" and len(names) == 1 else None

    def messages(self, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
        """The conversation as text-only messages for a chat template: the tool section joins
        the system message (or becomes one), tool calls and results are rendered as text."""
        out: list[ChatMessage] = []
        names: dict[str, str] = {}
        for message in messages:
            calls = [_plain_call(c) for c in message.additional_kwargs.get("tool_calls") or ()]
            text = message.content or ""
            if calls and message.role is not MessageRole.TOOL:
                for call in calls:
                    if call["id"]:
                        names[call["id"]] = call["name"]
                rendered = render_tool_calls(calls)
                text = f"{text}\n{rendered}" if text.strip() else rendered
                out.append(ChatMessage(role=message.role, content=text))
            elif message.role in (MessageRole.TOOL, MessageRole.FUNCTION):
                call_id = message.additional_kwargs.get("tool_call_id")
                name = message.additional_kwargs.get("name") or names.get(str(call_id))
                rendered = render_tool_result(
                    text, name=name, call_id=str(call_id) if call_id else None
                )
                out.append(ChatMessage(role=MessageRole.TOOL, content=rendered))
            else:
                out.append(ChatMessage(role=message.role, content=text))
        section = tool_system_prompt(self.specs, self.choice)
        if section:
            if out and out[0].role is MessageRole.SYSTEM:
                head = out[0].content or ""
                out[0] = ChatMessage(role=MessageRole.SYSTEM, content=f"{head}\n\n{section}")
            else:
                out.insert(0, ChatMessage(role=MessageRole.SYSTEM, content=section))
        return out

    def parse(self, text: str) -> tuple[str, list[ToolCallDict], list[InvalidToolCallDict]]:
        """``(content, tool_calls, invalid_tool_calls)`` of a reply (never raises).

        When the model must call one given tool and answers with a bare JSON object (what small
        models do for structured output), the object is taken as that tool's arguments.
        """
        if not self.parses:
            return text, [], []
        content, calls, invalid = parse_tool_reply(text, self.names)
        forced = self.forced
        if calls or invalid or forced is None:
            return content, calls, invalid
        arguments = _json_object(text)
        if arguments is None:
            return content, calls, invalid
        digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]
        return "", [{"id": f"call_{digest}_0", "name": forced, "arguments": arguments}], []


def text_tools(tools: Sequence[Mapping[str, Any]] | None, tool_choice: Any) -> TextTools | None:
    """The tools of a call (OpenAI tool dicts) with their checked ``tool_choice``."""
    if not tools:
        return None
    return TextTools(tuple(tools), normalize_tool_choice(tool_choice, tools))


def native_tool_choice(tools: Sequence[Mapping[str, Any]], tool_choice: Any) -> Any:
    """``tool_choice`` in OpenAI's wire form (a bare tool name becomes a function choice)."""
    return openai_tool_choice(normalize_tool_choice(tool_choice, tools))


def _plain_call(call: Mapping[str, Any]) -> dict[str, Any]:
    """A tool call in the core's shape, from the core's or OpenAI's."""
    function = call.get("function")
    if isinstance(function, Mapping):
        name, arguments = function.get("name"), function.get("arguments")
    else:
        name, arguments = call.get("name"), call.get("arguments")
    if isinstance(arguments, str):
        with contextlib.suppress(ValueError):  # else rendered back as the model wrote it
            arguments = json.loads(arguments) if arguments.strip() else {}
    call_id = call.get("id")
    return {"id": str(call_id) if call_id else None, "name": name, "arguments": arguments}


def _json_object(text: str) -> dict[str, Any] | None:
    """The JSON object in ``text`` (bare or fenced), found by the core's one extraction."""
    try:
        data = extract_json(text)
    except StructuredParseError:
        return None
    return data if isinstance(data, dict) else None


class ToolStreamSplitter:
    """:class:`~langchain_hf_spaces._tools.ToolCallDetector` with this call's tools: passes a
    streamed reply on until a tool call may begin, then holds the rest back.

    :meth:`feed` returns the text that can be shown now; :meth:`finish` parses the held part
    and returns ``(last delta, content, tool_calls, invalid_tool_calls)``: the content never
    holds the tool call's JSON, and the deltas add up to the content.
    """

    __slots__ = ("detector", "tools")

    def __init__(self, tools: TextTools) -> None:
        self.tools = tools
        self.detector = ToolCallDetector()

    def held(self) -> str:
        """What was held back (for a stream that breaks: it arrived, so the caller gets it)."""
        return self.detector.flush()

    def feed(self, delta: str) -> str:
        return self.detector.feed(delta)

    def finish(self) -> tuple[str, str, list[ToolCallDict], list[InvalidToolCallDict]]:
        shown = "".join(self.detector.streamed)
        held = self.detector.flush()
        rest, calls, invalid = self.tools.parse(held)
        if not calls and not invalid:
            rest = held
        return rest, shown + rest, calls, invalid
