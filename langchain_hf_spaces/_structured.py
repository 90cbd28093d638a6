"""Structured generation without a framework: format instructions, extraction, re-asking.

The re-ask loop is written once (:func:`structured_loop` / :func:`astructured_loop`) around any
``ask(prompt) -> text`` function; the client, the LangChain runnables and the LlamaIndex LLM
all go through it.
"""

from __future__ import annotations

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
_FENCE_RE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


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


def extract_json(text: str) -> Any:
    """The JSON value in a model's answer: inside a code fence, or the first JSON object.

    Raises:
        StructuredParseError: no JSON object is found.
    """
    if not isinstance(text, str):
        raise StructuredParseError(f"expected text, got {type(text).__name__}", str(text))
    candidates = [m.group(1) for m in _FENCE_RE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    found_list: Any = None
    for candidate in candidates:
        stripped = candidate.strip()
        try:
            return json.loads(stripped)
        except (ValueError, RecursionError):
            pass
        for match in re.finditer(r"[\[{]", stripped):
            try:
                value, _ = decoder.raw_decode(stripped, match.start())
            except (ValueError, RecursionError):
                continue
            if isinstance(value, dict):
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
