"""How one OpenAI chat request becomes a call on one Space, and its answer an OpenAI reply.

No I/O. :func:`plan_chat` decides, for a Space whose protocol is resolved, what is sent:

* an ``openai``-protocol Space gets the messages, ``tools``, ``tool_choice`` and
  ``response_format`` as they are (native tool calls and JSON mode);
* a Gradio chat app (``takes_messages``) gets the conversation, when there are no tools and no
  ``response_format`` (it applies its own template);
* any other Space gets one prompt: the conversation rendered with the tier's chat template, the
  tools described by the tool prompt protocol (:mod:`langchain_hf_spaces._tools`), and the reply
  cut at the template's end-of-turn markers and parsed for tool calls. A ``response_format``
  without tools runs our structured generation (format instructions, validation, re-asks).

:class:`ReplyAssembler` turns the Space's answer (streamed or whole) into OpenAI's content
deltas, tool calls and ``finish_reason``, the same way for both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel

from langchain_hf_spaces._answers import SpaceAnswer, StreamChunk
from langchain_hf_spaces._chat_templates import ChatTemplate, MarkerCutter
from langchain_hf_spaces._space import SpaceClient
from langchain_hf_spaces._tools import (
    ToolCallDetector,
    ToolChoice,
    normalize_tool_choice,
    openai_tool_choice,
    parse_tool_reply,
    render_tool_calls,
    render_tool_result,
    tool_system_prompt,
)
from langchain_hf_spaces.errors import SpaceInputError
from langchain_hf_spaces.gateway._openai import ChatRequest, bad_request
from langchain_hf_spaces.schema import SchemaError, schema_to_model

__all__ = [
    "ChatPlan",
    "Reply",
    "ReplyAssembler",
    "plan_chat",
    "render_conversation",
    "structured_reply",
]

JSON_SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"


@dataclass
class ChatPlan:
    """What is sent to one Space for one chat request."""

    native: bool
    """Messages go as they are (``messages``); else one rendered ``prompt``."""
    params: dict[str, Any]
    cut_markers: tuple[str, ...] = ()
    messages: list[dict[str, Any]] = field(default_factory=list)
    prompt: str = ""
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    tool_names: list[str] = field(default_factory=list)
    parse_tools: bool = False
    """Text protocol with tools: the reply is parsed for tool calls."""
    chat_native: bool = False
    """The Space speaks OpenAI's chat (its tool calls are native)."""
    structured: type[BaseModel] | None = None
    """Text protocol with a ``response_format``: our structured generation, with this model."""
    instruction: str = ""
    """The last user message (what the structured generation's instructions are added to)."""
    head: list[dict[str, Any]] = field(default_factory=list)
    """The messages before it."""
    template: ChatTemplate | None = None

    def render(self, instruction: str) -> str:
        """The prompt with ``instruction`` as the last user message (structured re-asks)."""
        assert self.template is not None
        messages = [*self.head, {"role": "user", "content": instruction}]
        return self.template(render_conversation(messages, ""))


def _content_text(content: Any, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for i, part in enumerate(content):
        if isinstance(part, Mapping) and part.get("type") == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise bad_request(f"{where}[{i}].text must be a string.", f"{where}[{i}].text")
            parts.append(text)
        else:
            kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
            raise bad_request(
                f"{where}[{i}] is a {kind!r} part: this tier's Space takes text only.",
                f"{where}[{i}]",
            )
    return "".join(parts)


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw) if raw.strip() else {}
        except ValueError:
            return raw
    return raw


def render_conversation(
    messages: Sequence[Mapping[str, Any]], system_extra: str
) -> list[dict[str, str]]:
    """OpenAI messages as the ``{"role", "content"}`` text turns a chat template renders.

    Assistant tool calls are written in the tool protocol's JSON form and tool results as
    ``tool`` turns naming their tool, as :class:`~langchain_hf_spaces.ChatHuggingFaceSpace`
    does; ``system_extra`` (tool or format instructions) joins the system message.
    """
    out: list[dict[str, str]] = []
    names: dict[str, str] = {}
    for i, message in enumerate(messages):
        role = message["role"]
        text = _content_text(message.get("content"), f"messages[{i}].content")
        if role in ("system", "developer"):
            out.append({"role": "system", "content": text})
        elif role == "user":
            out.append({"role": "user", "content": text})
        elif role == "assistant":
            calls = []
            for call in message.get("tool_calls") or ():
                function = call.get("function") if isinstance(call, Mapping) else None
                if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
                    raise bad_request(
                        f"messages[{i}].tool_calls holds a call without a function name.",
                        f"messages[{i}].tool_calls",
                    )
                if isinstance(call.get("id"), str):
                    names[call["id"]] = function["name"]
                calls.append(
                    {"name": function["name"], "arguments": _arguments(function.get("arguments"))}
                )
            if calls:
                rendered = render_tool_calls(calls)
                text = f"{text}\n{rendered}" if text.strip() else rendered
            out.append({"role": "assistant", "content": text})
        else:  # tool, or the legacy function role
            call_id = message.get("tool_call_id")
            call_id = call_id if isinstance(call_id, str) else None
            name = message.get("name")
            if not isinstance(name, str):
                name = names.get(call_id or "")
            out.append(
                {"role": "tool", "content": render_tool_result(text, name=name, call_id=call_id)}
            )
    if system_extra:
        if out and out[0]["role"] == "system":
            out[0] = {"role": "system", "content": out[0]["content"] + "\n\n" + system_extra}
        else:
            out.insert(0, {"role": "system", "content": system_extra})
    return out


def _json_instructions(response_format: Mapping[str, Any]) -> str:
    schema = _format_schema(response_format)
    text = "Reply with one JSON object and nothing else (no prose, no code fence)."
    if schema is not None:
        text += " It must conform to this JSON schema:\n" + json.dumps(
            schema, ensure_ascii=False, sort_keys=True
        )
    return "# Output format\n" + text


def _format_schema(response_format: Mapping[str, Any]) -> dict[str, Any] | None:
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return dict(schema) if isinstance(schema, Mapping) else None
    return None


def _structured_model(response_format: Mapping[str, Any]) -> type[BaseModel]:
    schema = _format_schema(response_format) or {"type": "object"}
    name = (response_format.get("json_schema") or {}).get("name")
    if "$schema" not in schema:  # always a JSON schema, never the guide's schema dict
        schema = {"$schema": JSON_SCHEMA_DRAFT, **schema}
    try:
        return schema_to_model(schema, name=name if isinstance(name, str) and name else None)
    except SchemaError as exc:
        raise bad_request(
            f"response_format.json_schema.schema: {exc.message}", "response_format.json_schema"
        ) from None


def _choice(req: ChatRequest) -> ToolChoice | None:
    if not req.tools:
        return None
    try:
        return normalize_tool_choice(req.tool_choice, req.tools)
    except SpaceInputError as exc:
        raise bad_request(exc.message, "tool_choice") from None


def plan_chat(space: SpaceClient, req: ChatRequest, template: ChatTemplate) -> ChatPlan:
    """What to send ``space`` (its protocol resolved) for ``req``."""
    choice = _choice(req)
    tools = req.tools or None
    names = [str(t["function"]["name"]) for t in tools or ()]
    user_stops: list[str] = list(req.params.get("stop", []))
    params = dict(req.params)
    if space.is_chat_native:
        params.update(req.native_params)
        if req.response_format is not None:
            params["response_format"] = req.response_format
        return ChatPlan(
            native=True,
            chat_native=True,
            params=params,
            cut_markers=tuple(user_stops),
            messages=req.messages,
            tools=tools,
            tool_choice=openai_tool_choice(choice) if choice is not None else None,
            tool_names=names,
        )
    if req.native_params:
        name = next(iter(req.native_params))
        raise bad_request(
            f"{name} is not supported by tier {space.tier!r}: its Space speaks the "
            f"{space.protocol!r} protocol, which has no such parameter.",
            name,
        )
    if space.takes_messages and not tools and req.response_format is None:
        turns = render_conversation(req.messages, "")
        return ChatPlan(
            native=True, params=params, cut_markers=tuple(user_stops), messages=list(turns)
        )
    parse_tools = choice is not None and choice.mode != "none"
    extra = []
    if tools and choice is not None:
        extra.append(tool_system_prompt(tools, choice))
    if req.response_format is not None and parse_tools:
        extra.append(_json_instructions(req.response_format))
    turns = render_conversation(req.messages, "\n\n".join(e for e in extra if e))
    markers = tuple(dict.fromkeys([*template.end_of_turn, *user_stops]))
    if markers:
        params["stop"] = list(markers)
    plan = ChatPlan(
        native=False,
        params=params,
        cut_markers=markers,
        prompt=template(turns),
        tool_names=names,
        parse_tools=parse_tools,
        template=template,
    )
    if req.response_format is not None and not parse_tools:
        if not turns or turns[-1]["role"] != "user":
            raise bad_request(
                "response_format on this tier needs the conversation to end with a user "
                "message (the format instructions are added to it).",
                "messages",
            )
        plan.structured = _structured_model(req.response_format)
        plan.instruction = turns[-1]["content"]
        plan.head = turns[:-1]
    return plan


@dataclass
class Reply:
    """The end of a reply: the content not yet given, the tool calls, the ``finish_reason``."""

    content: str
    tool_calls: list[dict[str, Any]]
    cut: bool
    answer: SpaceAnswer | None


def _call_id(seed: str, index: int) -> str:
    digest = hashlib.sha256(seed.encode("utf-8", "replace")).hexdigest()[:24]
    return f"call_{digest}_{index}"


def _openai_call(
    call_id: str | None, name: str | None, arguments: Any, seed: str, i: int
) -> dict[str, Any]:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {
        "id": call_id or _call_id(seed, i),
        "type": "function",
        "function": {"name": name or "", "arguments": args},
    }


class ReplyAssembler:
    """Feeds on the Space's chunks; gives the content to show now, then the :class:`Reply`."""

    def __init__(self, plan: ChatPlan) -> None:
        self.plan = plan
        self.cutter = MarkerCutter(plan.cut_markers)
        self.detector = ToolCallDetector() if plan.parse_tools else None
        self.answer: SpaceAnswer | None = None
        self.shown: list[str] = []

    @property
    def done(self) -> bool:
        """The reply reached an end-of-turn marker: the rest of the stream is not needed."""
        return self.cutter.done

    def feed(self, piece: StreamChunk) -> str:
        if piece.answer is not None:
            self.answer = piece.answer
        text = self.cutter.feed(piece.text)
        if text and self.detector is not None:
            text = self.detector.feed(text)
        if text:
            self.shown.append(text)
        return text

    def finish(self) -> Reply:
        rest = self.cutter.flush()
        calls: list[dict[str, Any]] = []
        seed = "".join(self.shown) + rest
        if self.detector is not None:
            rest = self.detector.feed(rest)
            held = self.detector.flush()
            content, parsed, invalid = parse_tool_reply(held, self.plan.tool_names)
            seed = held
            calls = [
                _openai_call(c["id"], c["name"], c["arguments"], seed, i)
                for i, c in enumerate(parsed)
            ]
            # A call that names a tool goes out as it came (OpenAI clients report bad arguments
            # back to the model); an attempt without a name stays text.
            for c in invalid:
                if c["name"]:
                    calls.append(_openai_call(c["id"], c["name"], c["arguments"], seed, len(calls)))
                else:
                    content = f"{content}\n{c['arguments']}" if content else c["arguments"]
            rest += content
        elif self.plan.chat_native and self.answer is not None and self.answer.tool_calls:
            seed = json.dumps(self.answer.tool_calls, sort_keys=True, default=str)
            # Arguments go on as the Space wrote them (a client reports bad ones to the model).
            calls = [
                _openai_call(raw.get("id"), raw.get("name"), raw.get("arguments"), seed, i)
                for i, raw in enumerate(self.answer.tool_calls)
            ]
        return Reply(content=rest, tool_calls=calls, cut=self.cutter.done, answer=self.answer)


def structured_reply(answer: SpaceAnswer, value: BaseModel) -> SpaceAnswer:
    """The answer of a structured generation: the validated object as JSON text."""
    return replace(answer, text=value.model_dump_json())
