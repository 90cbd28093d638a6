"""The guide's API: ``POST {endpoint}`` with ``{"inputs", "parameters"}``.

The answer is ``{"generated_text": str}`` or the Inference API's ``[{"generated_text": str}]``.
A Space that echoes the prompt (``return_full_text``) has it stripped from the answer. There is
no stream: streaming yields the whole answer once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from langchain_hf_spaces.protocols._base import (
    Generation,
    Protocol,
    ProtocolError,
    RequestSpec,
    int_or_none,
    loads_json,
    str_or_none,
)

__all__ = ["GenerateProtocol", "parse_generated_text", "strip_echo"]


def strip_echo(text: str, prompt: str) -> str:
    """Remove ``prompt`` from the start of ``text`` when the Space echoed it."""
    if prompt and text.startswith(prompt):
        return text[len(prompt) :].lstrip()
    return text


def parse_generated_text(body: bytes, *, prompt: str) -> Generation:
    """``{"generated_text", "details"?}`` or ``[{...}]`` -> :class:`Generation`."""
    data = loads_json(body)
    item = data
    if isinstance(data, list):
        if not data:
            raise ProtocolError("The Space answered an empty list.", body)
        item = data[0]
    if not isinstance(item, Mapping) or "generated_text" not in item:
        raise ProtocolError(
            'The answer has no "generated_text" (expected {"generated_text": "..."} or '
            '[{"generated_text": "..."}]).',
            body,
        )
    text = item["generated_text"]
    if not isinstance(text, str):
        raise ProtocolError('"generated_text" is not a string.', body)
    details = item.get("details")
    if not isinstance(details, Mapping):
        details = {}
    return Generation(
        text=strip_echo(text, prompt),
        finish_reason=str_or_none(details.get("finish_reason")),
        completion_tokens=int_or_none(details.get("generated_tokens")),
    )


class GenerateProtocol(Protocol):
    name: ClassVar[str] = "generate"

    def build_request(
        self, prompt: str, parameters: Mapping[str, Any], *, stream: bool = False
    ) -> RequestSpec:
        return RequestSpec(
            "POST", self.config.endpoint, {"inputs": prompt, "parameters": dict(parameters)}
        )

    def parse_response(
        self, body: bytes, *, prompt: str, request: RequestSpec | None = None
    ) -> Generation:
        return parse_generated_text(body, prompt=prompt)
