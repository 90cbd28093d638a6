"""Tool calling for text-protocol Spaces: a documented prompt protocol (no I/O).

A Space that only completes text cannot take OpenAI tool schemas natively, so
:class:`~langchain_hf_spaces.ChatHuggingFaceSpace` describes the tools in the system prompt and
asks for a JSON reply::

    # Tools
    You can call the tools described by these JSON schemas:
    <tools>
    {"name": "get_weather", "description": "...", "parameters": {...}}
    </tools>
    To call tools, reply with one JSON object and nothing else:
    {"tool_calls": [{"name": "<tool name>", "arguments": {...}}]}
    Results come back in messages from the tool role.
    If no tool is needed, answer in plain text instead.

The last line depends on ``tool_choice``: ``"auto"`` (above), ``"any"``/``"required"`` ("You must
call at least one tool"), a tool name ("You must call the tool ..."), ``"none"`` (no tool section
at all). A reply is parsed by :func:`parse_tool_reply`: a JSON object with ``tool_calls`` (or a
single ``{"name", "arguments"}`` object), optionally in a Markdown code fence, becomes tool calls;
text around it stays content; JSON that is malformed or names an unknown tool becomes an invalid
tool call with the reason, never an exception.

Earlier assistant turns with tool calls are rendered back in the same JSON form, and tool results
as ``tool`` turns, so the model sees one consistent format through a whole agent loop.

Plain data only (no framework imports): tool specs come in as dicts (OpenAI's
``{"type": "function", "function": {...}}`` or the bare function dict), tool calls go out as
:class:`ToolCallDict` / :class:`InvalidToolCallDict` (``id``, ``name``, ``arguments``; the shape
of :attr:`SpaceAnswer.tool_calls`). The LangChain conversions live in
:mod:`langchain_hf_spaces._lc_messages`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from langchain_hf_spaces.errors import SpaceInputError

__all__ = [
    "InvalidToolCallDict",
    "ToolCallDetector",
    "ToolCallDict",
    "ToolChoice",
    "normalize_tool_choice",
    "openai_tool_choice",
    "parse_native_tool_calls",
    "parse_tool_reply",
    "render_tool_calls",
    "render_tool_result",
    "tool_system_prompt",
]


class ToolCallDict(TypedDict):
    """A tool call: the arguments parsed into a JSON object."""

    id: str | None
    name: str
    arguments: dict[str, Any]


class InvalidToolCallDict(TypedDict):
    """An attempt at a tool call that cannot be made: the raw arguments and the reason."""

    id: str | None
    name: str | None
    arguments: str
    error: str


def _invalid(
    name: str | None, arguments: str, call_id: str | None, error: str
) -> InvalidToolCallDict:
    return {"id": call_id, "name": name, "arguments": arguments, "error": error}


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """``mode`` is ``auto``, ``none``, ``required`` or ``function`` (then ``name`` is set)."""

    mode: Literal["auto", "none", "required", "function"]
    name: str | None = None


def _tool_name(tool: Mapping[str, Any]) -> str:
    function = tool.get("function", tool)
    return str(function.get("name", ""))


def normalize_tool_choice(choice: Any, tools: Sequence[Mapping[str, Any]]) -> ToolChoice:
    """Accept every ``tool_choice`` form LangChain users pass and check it against ``tools``.

    ``None``/``"auto"``, ``"none"``, ``"any"``/``"required"``/``True``, a tool name, or a dict
    (``{"type": "function", "function": {"name": ...}}``, ``{"name": ...}`` or
    ``{"type": "any"|"auto"|"none"|"required"}``).

    Raises:
        SpaceInputError: an unknown form, or a tool name that is not among ``tools``.
    """
    names = [_tool_name(t) for t in tools]
    if choice is None or choice == "auto":
        return ToolChoice("auto")
    if choice is False or choice == "none":
        return ToolChoice("none")
    if choice is True or choice in ("any", "required"):
        return ToolChoice("required")
    name: Any = None
    if isinstance(choice, str):
        name = choice
    elif isinstance(choice, Mapping):
        kind = choice.get("type")
        if kind in ("any", "auto", "none", "required") and "function" not in choice:
            return normalize_tool_choice(kind, tools)
        function = choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else choice.get("name")
    if not isinstance(name, str) or not name:
        raise SpaceInputError(
            f"tool_choice={choice!r} is not understood: use 'auto', 'none', 'any', "
            "'required', a tool name or {'type': 'function', 'function': {'name': ...}}."
        )
    if name not in names:
        raise SpaceInputError(
            f"tool_choice names the tool {name!r}, which is not bound "
            f"(bound: {', '.join(names) or 'none'})."
        )
    return ToolChoice("function", name)


def openai_tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    """The OpenAI wire form of ``choice`` (for Spaces that take tools natively)."""
    if choice.mode == "function":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode


def tool_system_prompt(tools: Sequence[Mapping[str, Any]], choice: ToolChoice) -> str:
    """The system-prompt section that describes ``tools`` (empty for ``tool_choice="none"``)."""
    if choice.mode == "none" or not tools:
        return ""
    lines = []
    for tool in tools:
        function = tool.get("function", tool)
        entry = {"name": function.get("name"), "description": function.get("description", "")}
        entry["parameters"] = function.get("parameters", {"type": "object", "properties": {}})
        lines.append(json.dumps(entry, ensure_ascii=False, sort_keys=True))
    if choice.mode == "required":
        rule = "You must call at least one tool: reply with the JSON object only."
    elif choice.mode == "function":
        rule = f'You must call the tool "{choice.name}": reply with the JSON object only.'
    else:
        rule = "If no tool is needed, answer in plain text instead."
    return (
        "# Tools\n"
        "You can call the tools described by these JSON schemas:\n"
        "<tools>\n" + "\n".join(lines) + "\n</tools>\n"
        "To call tools, reply with one JSON object and nothing else:\n"
        '{"tool_calls": [{"name": "<tool name>", "arguments": {<arguments>}}]}\n'
        "Results come back in messages from the tool role.\n" + rule
    )


def render_tool_calls(calls: Sequence[Mapping[str, Any]]) -> str:
    """An assistant turn's tool calls (``{"name", "arguments"}`` dicts), in the protocol's form."""
    payload = {
        "tool_calls": [{"name": c["name"], "arguments": c.get("arguments", {})} for c in calls]
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True)


def render_tool_result(content: str, *, name: str | None, call_id: str | None) -> str:
    """A tool result turn: which call it answers, then the result."""
    head = f"Result of tool {name!r}" if name else "Tool result"
    if call_id:
        head += f" (call {call_id})"
    return f"{head}:\n{content}"


def _strip_fence(text: str) -> str:
    stripped = text.strip()
    if not stripped.startswith("```"):
        return stripped
    first, _, rest = stripped[3:].partition("\n")
    body = rest if "{" not in first else stripped[3:]
    body = body.rstrip()
    if body.endswith("```"):
        body = body[:-3]
    return body.strip()


@dataclass(frozen=True, slots=True)
class _BadJSON:
    """A ``<tool_call>`` block whose body is not JSON."""

    text: str
    error: str


def _call_id(text: str, index: int) -> str:
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]
    return f"call_{digest}_{index}"


_TOOL_TAG_RE = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)
_EMPTY_FENCE_RE = re.compile(r"```[A-Za-z]*\s*```")
_EMPTY_TAG_RE = re.compile(r"<tool_call>\s*</tool_call>")


def _is_call(data: Any) -> bool:
    return (
        isinstance(data, Mapping)
        and isinstance(data.get("name"), str)
        and ("arguments" in data or "parameters" in data or "args" in data)
    )


def _raw_calls(data: Any) -> Any:
    """The tool calls in a decoded reply, or ``None`` when it is not a tool call."""
    if isinstance(data, Mapping) and "tool_calls" in data:
        return data["tool_calls"]
    if _is_call(data):
        return [data]  # {"name", "arguments"} or Llama 3.1's {"name", "parameters"}
    if isinstance(data, list) and data and all(_is_call(d) for d in data):
        return data
    return None


def _clean_content(content: str) -> str:
    """What is left once the tool calls are out, without the fences and tags that held them."""
    content = _EMPTY_FENCE_RE.sub("", content)
    content = _EMPTY_TAG_RE.sub("", content)
    return content.strip()


def parse_tool_reply(
    text: str, tool_names: Sequence[str]
) -> tuple[str, list[ToolCallDict], list[InvalidToolCallDict]]:
    """Split a model's reply into ``(content, tool_calls, invalid_tool_calls)``.

    Understood forms: ``{"tool_calls": [...]}``, one ``{"name", "arguments"}`` object, Llama
    3.1's ``{"name", "parameters"}``, a JSON list of those, and Qwen/Hermes
    ``<tool_call>{...}</tool_call>`` blocks, each optionally in a Markdown code fence; the fences,
    tags and brackets that held them do not stay in ``content``.

    Never raises: anything that looks like an attempt to call a tool but is not valid becomes an
    :class:`InvalidToolCallDict` carrying the raw text and the reason. Tool call ids are derived
    from the reply, so the same reply always gets the same ids.
    """
    tagged = list(_TOOL_TAG_RE.finditer(text))
    raw_calls: Any
    if tagged:
        raw_calls = []
        for match in tagged:
            inner = _strip_fence(match.group(1))
            try:
                data = json.loads(inner)
            except (ValueError, RecursionError) as exc:
                raw_calls.append(_BadJSON(inner, str(exc)))
                continue
            found = _raw_calls(data)
            raw_calls.extend(found if isinstance(found, list) else [data])
        content = _clean_content(_TOOL_TAG_RE.sub("", text))
    else:
        body = _strip_fence(text)
        brace = body.find("{")
        if brace < 0:
            return text, [], []
        start = brace
        before = body[:brace].rstrip()
        if before.endswith("["):
            start = len(before) - 1
        decoder = json.JSONDecoder()
        raw_calls = None
        error = ""
        end = start
        for attempt in dict.fromkeys((start, brace)):
            try:
                data, end = decoder.raw_decode(body, attempt)
            except (ValueError, RecursionError) as exc:
                error = error or str(exc)
                continue
            raw_calls = _raw_calls(data)
            if raw_calls is not None:
                start = attempt
                break
        if raw_calls is None:
            if error and (
                '"tool_calls"' in body
                or ('"name"' in body and ('"arguments"' in body or '"parameters"' in body))
            ):
                bad = _invalid(
                    name=None,
                    arguments=body[start:],
                    call_id=_call_id(text, 0),
                    error=f"The reply is not valid JSON: {error}.",
                )
                return _clean_content(body[:start]), [], [bad]
            return text, [], []
        content = _clean_content(body[:start] + body[end:])
    if not isinstance(raw_calls, list):
        bad = _invalid(
            name=None,
            arguments=json.dumps(raw_calls, ensure_ascii=False),
            call_id=_call_id(text, 0),
            error="`tool_calls` must be a list of {name, arguments} objects.",
        )
        return content, [], [bad]
    known = set(tool_names)
    calls: list[ToolCallDict] = []
    invalid: list[InvalidToolCallDict] = []
    for index, raw in enumerate(raw_calls):
        call_id = _call_id(text, index)
        if isinstance(raw, _BadJSON):
            invalid.append(
                _invalid(None, raw.text, call_id, f"The tool call is not valid JSON: {raw.error}.")
            )
            continue
        raw_text = json.dumps(raw, ensure_ascii=False)
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            invalid.append(
                _invalid(
                    name=None,
                    arguments=raw_text,
                    call_id=call_id,
                    error="A tool call needs a `name`.",
                )
            )
            continue
        name = raw["name"]
        arguments = raw.get("arguments", raw.get("parameters", raw.get("args", {})))
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except (ValueError, RecursionError) as exc:
                invalid.append(
                    _invalid(
                        name=name,
                        arguments=arguments,
                        call_id=call_id,
                        error=f"`arguments` is not valid JSON: {exc}.",
                    )
                )
                continue
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            invalid.append(
                _invalid(
                    name=name,
                    arguments=json.dumps(arguments, ensure_ascii=False),
                    call_id=call_id,
                    error="`arguments` must be a JSON object.",
                )
            )
            continue
        if known and name not in known:
            invalid.append(
                _invalid(
                    name=name,
                    arguments=json.dumps(arguments, ensure_ascii=False),
                    call_id=call_id,
                    error=f"Unknown tool {name!r} (bound: {', '.join(tool_names)}).",
                )
            )
            continue
        calls.append({"id": call_id, "name": name, "arguments": arguments})
    return content, calls, invalid


def parse_native_tool_calls(
    raw_calls: Sequence[Mapping[str, Any]] | None,
) -> tuple[list[ToolCallDict], list[InvalidToolCallDict]]:
    """Tool calls a chat-native Space returned (:attr:`SpaceAnswer.tool_calls`), with their
    ``arguments`` parsed into JSON objects; the ones that do not parse are invalid calls."""
    calls: list[ToolCallDict] = []
    invalid: list[InvalidToolCallDict] = []
    for raw in raw_calls or ():
        name = raw.get("name")
        args = raw.get("arguments", {})
        call_id = raw.get("id")
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except (ValueError, RecursionError) as exc:
                invalid.append(_invalid(name, args, call_id, str(exc)))
                continue
        if not isinstance(args, dict):
            invalid.append(_invalid(name, json.dumps(args), call_id, "arguments not an object"))
            continue
        calls.append({"id": call_id, "name": str(name), "arguments": args})
    return calls, invalid


_CALL_OPENERS = ("```", "<tool_call>")


class ToolCallDetector:
    """Streams a reply's text until a tool call may be starting, then buffers the rest.

    Feed it the reply's deltas: :meth:`feed` returns the text that is safe to show now (it cannot
    be part of a tool call); from the first ``{``, ``[``, ```` ``` ```` or ``<tool_call>`` on,
    everything is held and :meth:`flush` returns it at the end, to be split with
    :func:`parse_tool_reply`. Only a possible start of ```` ``` ```` or ``<tool_call>`` at the end
    of a delta is held back while it is undecided. No I/O, usable from any framework::

        detector = ToolCallDetector()
        for delta in deltas:
            show(detector.feed(delta))
        content, calls, invalid = parse_tool_reply(detector.flush(), names)
        show(content)  # the rest of the text, after the streamed part
    """

    __slots__ = ("_buffer", "_pending", "buffering", "streamed")

    def __init__(self) -> None:
        self._pending = ""
        self._buffer: list[str] = []
        self.buffering = False
        """True once a tool call may have started."""
        self.streamed: list[str] = []
        """The text :meth:`feed` has returned so far."""

    def feed(self, delta: str) -> str:
        """Add a delta; return the text that is now safe to show (often the delta itself)."""
        if self.buffering:
            self._buffer.append(delta)
            return ""
        text = self._pending + delta
        self._pending = ""
        cut = _first_opener(text)
        if cut >= 0:
            self.buffering = True
            self._buffer.append(text[cut:])
            out = text[:cut]
        else:
            hold = _partial_opener(text)
            out, self._pending = text[: len(text) - hold], text[len(text) - hold :]
        if out:
            self.streamed.append(out)
        return out

    def flush(self) -> str:
        """The held text (a possible tool call and what follows it) at the end of the reply."""
        out = self._pending + "".join(self._buffer)
        self._pending = ""
        self._buffer = []
        return out


def _first_opener(text: str) -> int:
    positions = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    positions += [i for i in (text.find(o) for o in _CALL_OPENERS) if i >= 0]
    return min(positions, default=-1)


def _partial_opener(text: str) -> int:
    """How many trailing characters could begin one of the multi-character openers."""
    for size in range(min(len(text), max(len(o) for o in _CALL_OPENERS) - 1), 0, -1):
        tail = text[-size:]
        if any(o.startswith(tail) for o in _CALL_OPENERS):
            return size
    return 0
