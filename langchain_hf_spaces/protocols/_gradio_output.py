"""A Gradio endpoint's output as text. No I/O.

Outputs come as a list, one value per output component. The text is: the last assistant message
of a Chatbot output (tuples or messages history), else the assistant content of a message dict
or list of ``gr.ChatMessage`` (ChatInterface on 5.x/6.x answers in a JSON output), else the first
non-empty string output. ``gr.ChatMessage`` entries with a ``metadata.title`` (a "Thought") are
reasoning, kept apart from the text. Streaming on the queue protocol (``sse_v2`` and later) sends
the first output whole and then diffs, applied by :func:`apply_diff` as gradio_client does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_hf_spaces.protocols._base import ProtocolError
from langchain_hf_spaces.protocols._gradio_app import Endpoint

__all__ = ["apply_diff", "output_text"]


def _content_text(content: Any) -> str:
    """A message's content: a string, a list of parts, or a component dict (file etc.)."""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        if isinstance(content.get("text"), str):
            return str(content["text"])
        return ""
    if isinstance(content, Sequence):
        return "".join(_content_text(part) for part in content)
    return ""


def _is_thought(message: Mapping[str, Any]) -> bool:
    meta = message.get("metadata")
    return isinstance(meta, Mapping) and bool(meta.get("title"))


def _assistant(messages: Sequence[Any]) -> tuple[str, str | None] | None:
    """The text and reasoning of the last assistant turn of a messages list."""
    turn: list[Mapping[str, Any]] = []
    for m in reversed(messages):
        if not isinstance(m, Mapping) or "content" not in m:
            return None
        if m.get("role", "assistant") != "assistant":
            break
        turn.insert(0, m)
    if not turn:
        return None
    text = "\n\n".join(_content_text(m["content"]) for m in turn if not _is_thought(m))
    thoughts = [_content_text(m["content"]) for m in turn if _is_thought(m)]
    return text, "\n\n".join(thoughts) if thoughts else None


def _from_value(value: Any) -> tuple[str, str | None] | None:
    if isinstance(value, str):
        return value, None
    if isinstance(value, Mapping):
        if isinstance(value.get("content"), (str, list, Mapping)):
            return _assistant([value])
        if isinstance(value.get("text"), str):
            return str(value["text"]), None
        if isinstance(value.get("generated_text"), str):
            return str(value["generated_text"]), None
        return None
    if isinstance(value, list) and value:
        if all(isinstance(m, Mapping) for m in value):
            return _assistant(value)
        last = value[-1]
        if isinstance(last, (list, tuple)) and len(last) == 2:  # tuples history
            return _content_text(last[1]) if last[1] is not None else "", None
    return None


def output_text(endpoint: Endpoint | None, data: Any) -> tuple[str, str | None]:
    """The answer's text (and reasoning) in an endpoint's output ``data``."""
    if not isinstance(data, list):
        raise ProtocolError("The Gradio output is not a list of values.", str(data)[:200])
    kinds = [s.type for s in endpoint.outputs] if endpoint is not None else []
    kinds += ["unknown"] * (len(data) - len(kinds))
    # A Chatbot output is where a chat app puts its answer, whatever else it returns.
    for kind, value in zip(kinds, data, strict=False):
        if kind == "chatbot":
            got = _from_value(value)
            if got is not None:
                return got
    found: list[tuple[str, str | None]] = []
    for kind, value in zip(kinds, data, strict=False):
        if kind == "state":
            continue
        got = _from_value(value)
        if got is not None:
            found.append(got)
    for text, reasoning in found:
        if text:
            return text, reasoning
    if found:
        return found[0]
    if not data:
        return "", None
    raise ProtocolError(
        "The Gradio app's output has no text (expected a Textbox, Chatbot or chat message).",
        str(data)[:200],
    )


def apply_diff(value: Any, diff: Any) -> Any:
    """Apply one output's diff (``[[op, path, value], ...]``), as gradio_client does."""
    if not isinstance(diff, list):
        return diff
    for edit in diff:
        if not (isinstance(edit, list) and len(edit) == 3 and isinstance(edit[1], list)):
            raise ProtocolError("A Gradio stream diff is malformed.", str(edit)[:200])
        op, path, new = edit
        value = _edit(value, op, path, new)
    return value


def _edit(target: Any, op: str, path: list[Any], new: Any) -> Any:
    if not path:
        if op == "replace":
            return new
        if op == "append":
            return target + new
        raise ProtocolError(f"A Gradio stream diff has an unknown operation {op!r}.")
    head, rest = path[0], path[1:]
    if not isinstance(target, (list, dict)):
        raise ProtocolError("A Gradio stream diff points into a value that is not a container.")
    if not rest and op == "add":
        if isinstance(target, list):
            target.insert(head, new)
        else:
            target[head] = new
        return target
    if not rest and op == "delete":
        del target[head]
        return target
    try:
        target[head] = _edit(target[head], op, rest, new)
    except (IndexError, KeyError, TypeError):
        raise ProtocolError("A Gradio stream diff points outside the output.") from None
    return target
