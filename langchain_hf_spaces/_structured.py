"""Structured generation without a framework: format instructions, extraction, re-asking.

The re-ask loop is written once (:func:`structured_loop` / :func:`astructured_loop`) around any
``ask(prompt) -> text`` function; the client, the LangChain runnables and the LlamaIndex LLM
all go through it.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from langchain_hf_spaces._constants import DEFAULT_STRUCTURED_RETRIES
from langchain_hf_spaces.errors import StructuredOutputError

__all__ = [
    "StructuredParseError",
    "astructured_loop",
    "extract_json",
    "format_instructions",
    "parse_structured",
    "reask_prompt",
    "structured_loop",
    "structured_prompt",
]

M = TypeVar("M", bound=BaseModel)


class StructuredParseError(ValueError):
    """An answer could not be turned into the schema's object; ``raw`` is the answer."""

    def __init__(self, message: str, raw: str) -> None:
        self.message = message
        self.raw = raw
        super().__init__(message)


def format_instructions(model: type[BaseModel]) -> str:
    """What to tell the model so its answer parses."""
    schema = json.dumps(model.model_json_schema(), separators=(",", ":"))
    return (
        "Answer with a single JSON object and nothing else: no prose, no code fence. "
        f"It must match this JSON schema:\n{schema}"
    )


def structured_prompt(prompt: str, model: type[BaseModel]) -> str:
    return f"{prompt}\n\n{format_instructions(model)}"


def reask_prompt(prompt: str, model: type[BaseModel], previous: str, errors: str) -> str:
    """The prompt for another try, showing the last answer and what was wrong with it."""
    shown = previous if len(previous) <= 2000 else previous[:2000] + "..."
    return (
        f"{structured_prompt(prompt, model)}\n\n"
        f"Your previous answer was:\n{shown}\n\n"
        f"It was not valid: {errors}\n"
        "Answer again with only the corrected JSON object."
    )


_MAX_DEPTH = 400
"""Deeper values are not decoded (the stdlib decoder would hit the recursion limit)."""


_SIGNIFICANT_RE = re.compile(r'[\[\]{}"\\]')
_OPENER = {"]": "[", "}": "{"}


def _fence_bodies(text: str) -> list[str]:
    """The bodies of Markdown code fences, as ```` ```json ... ``` ```` pairs, in one pass."""
    marks: list[int] = []
    i = text.find("```")
    while i >= 0:
        marks.append(i)
        i = text.find("```", i + 3)
    bodies = []
    for start, end in zip(marks[0::2], marks[1::2], strict=False):
        body = text[start + 3 : end]
        if body[:4] in ("json", "JSON"):
            body = body[4:]
        bodies.append(body)
    return bodies


def _bracket_pairs(text: str) -> list[tuple[int, int, int]]:
    """``(open, close, depth)`` of every balanced ``[...]``/``{...}`` span.

    One pass; when a stray quote opened a "string" that swallowed the rest of the text, the text
    is scanned again from just after the outermost bracket left open, within a budget of a few
    passes in all, so the work stays linear.
    """
    found: set[tuple[int, int, int]] = set()
    start = 0
    budget = _RESCAN_BUDGET * (len(text) + 1)
    while start >= 0 and budget > 0:
        budget -= len(text) - start
        pairs, start = _scan_brackets(text, start)
        found.update(pairs)
    return sorted(found)


_RESCAN_BUDGET = 4
"""How many text lengths the bracket scans may cover in all."""


def _scan_brackets(text: str, begin: int) -> tuple[list[tuple[int, int, int]], int]:
    """One scan from ``begin``: the balanced spans, and where to scan again (when a string was
    left unterminated) or -1.

    Quotes count only inside brackets (prose quotes outside are left alone); a close bracket that
    does not match drops every bracket still open (none of them can start valid JSON).
    ``depth`` is how deep the span nests.
    """
    pairs: list[tuple[int, int, int]] = []
    stack: list[list[int]] = []  # [position, deepest nesting below]
    in_string = False
    escape_at = -1
    for match in _SIGNIFICANT_RE.finditer(text, begin):
        i = match.start()
        ch = text[i]
        if in_string:
            if i == escape_at:
                escape_at = -1
            elif ch == "\\":
                escape_at = i + 1
            elif ch == '"':
                in_string = False
            continue
        if ch in "[{":
            stack.append([i, 1])
        elif ch in "]}":
            if stack and text[stack[-1][0]] == _OPENER[ch]:
                start, depth = stack.pop()
                pairs.append((start, i, depth))
                if stack and stack[-1][1] < depth + 1:
                    stack[-1][1] = depth + 1
            else:
                stack.clear()
        elif ch == '"' and stack:
            in_string = True
    # A string left open hid the rest: scan again just after the outermost bracket still open.
    return pairs, (stack[0][0] + 1 if in_string and stack else -1)


def _first_json(candidate: str, decoder: json.JSONDecoder) -> tuple[Any, bool]:
    """The first JSON object in ``candidate`` (``(value, True)``), else its first JSON list."""
    pairs = _bracket_pairs(candidate)
    found_list: Any = None
    skip_until = -1
    for index, (start, _end, depth) in enumerate(pairs):
        if start <= skip_until or depth > _MAX_DEPTH:
            continue
        try:
            value, stop = decoder.raw_decode(candidate, start)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            return value, True
        if found_list is None:
            found_list = value
        # A decoded list: the only object inside worth trying is its first one.
        skip_until = stop - 1
        for inner in range(index + 1, len(pairs)):
            inner_start, _, inner_depth = pairs[inner]
            if inner_start >= stop:
                break
            if candidate[inner_start] == "{" and inner_depth <= _MAX_DEPTH:
                with contextlib.suppress(ValueError, RecursionError):
                    obj, _ = decoder.raw_decode(candidate, inner_start)
                    if isinstance(obj, dict):
                        return obj, True
                break
    return found_list, False


def extract_json(text: str) -> Any:
    """The JSON value in a model's answer: inside a code fence, or the first JSON object.

    Fence bodies are tried first, then the whole text; in each, the whole of it as JSON, else the
    first JSON object in it (one nested in a list counts), else its first JSON list. Linear in the
    length of the text: brackets are matched in one pass and only balanced spans are decoded.

    Raises:
        StructuredParseError: no JSON object is found.
    """
    if not isinstance(text, str):
        raise StructuredParseError(f"expected text, got {type(text).__name__}", str(text))
    candidates = [*_fence_bodies(text), text]
    decoder = json.JSONDecoder()
    found_list: Any = None
    for candidate in candidates:
        stripped = candidate.strip()
        try:
            return json.loads(stripped)
        except (ValueError, RecursionError):
            pass
        value, is_object = _first_json(stripped, decoder)
        if is_object:
            return value
        if found_list is None:
            found_list = value
    if found_list is not None:
        return found_list
    raise StructuredParseError("the answer holds no JSON object", text)


def parse_structured(text: str, model: type[M]) -> M:
    """Extract, then validate against ``model``.

    Raises:
        StructuredParseError: with a message suited to showing the model in a re-ask.
    """
    value = extract_json(text)
    if isinstance(value, list):
        raise StructuredParseError(
            "the answer is a JSON list, but one JSON object was asked for", text
        )
    if not isinstance(value, dict):
        raise StructuredParseError(
            f"the answer is a JSON {type(value).__name__}, but one JSON object was asked for", text
        )
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise StructuredParseError(
            f"the JSON does not match the schema: {problems}", text
        ) from None


def _fail(
    model: type[BaseModel], attempts: list[tuple[str, str]], tier: str | None, url: str | None
) -> StructuredOutputError:
    last = attempts[-1][1] if attempts else "no attempt"
    return StructuredOutputError(
        f"no valid {model.__name__} after {len(attempts)} attempt(s); last problem: {last}",
        attempts=attempts,
        tier=tier,
        url=url,
    )


def structured_steps(
    prompt: str,
    model: type[M],
    *,
    max_retries: int = DEFAULT_STRUCTURED_RETRIES,
    tier: str | None = None,
    url: str | None = None,
) -> Generator[str, str, M]:
    """The re-ask loop with no I/O: yields each prompt to ask, receives the answer's text.

    Returns the validated object, or raises :class:`StructuredOutputError` with every attempt.
    """
    attempts: list[tuple[str, str]] = []
    current = structured_prompt(prompt, model)
    for _ in range(max_retries + 1):
        text = yield current
        try:
            return parse_structured(text, model)
        except StructuredParseError as exc:
            attempts.append((text, exc.message))
            current = reask_prompt(prompt, model, text, exc.message)
    raise _fail(model, attempts, tier, url)


def structured_loop(
    ask: Callable[[str], str],
    prompt: str,
    model: type[M],
    *,
    max_retries: int = DEFAULT_STRUCTURED_RETRIES,
    tier: str | None = None,
    url: str | None = None,
) -> M:
    """Ask, parse, and re-ask with the errors up to ``max_retries`` times."""
    steps = structured_steps(prompt, model, max_retries=max_retries, tier=tier, url=url)
    question = next(steps)
    while True:
        try:
            question = steps.send(ask(question))
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


async def astructured_loop(
    ask: Callable[[str], Awaitable[str]],
    prompt: str,
    model: type[M],
    *,
    max_retries: int = DEFAULT_STRUCTURED_RETRIES,
    tier: str | None = None,
    url: str | None = None,
) -> M:
    """Async :func:`structured_loop`."""
    steps = structured_steps(prompt, model, max_retries=max_retries, tier=tier, url=url)
    question = next(steps)
    while True:
        try:
            question = steps.send(await ask(question))
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
