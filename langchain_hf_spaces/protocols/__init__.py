"""Wire protocols: each builds requests and parses answer bytes, with no I/O."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_hf_spaces.protocols._base import (
    Continue,
    Generation,
    Protocol,
    ProtocolError,
    RequestSpec,
    StreamParser,
    error_message,
    excerpt,
    json_or_none,
)
from langchain_hf_spaces.protocols._sse import SSEDecoder, SSEEvent
from langchain_hf_spaces.protocols.generate import GenerateProtocol
from langchain_hf_spaces.protocols.gradio import CONFIG_PATH, GradioProtocol, is_gradio_config
from langchain_hf_spaces.protocols.openai import OpenAIProtocol
from langchain_hf_spaces.protocols.tgi import TGIProtocol

__all__ = [
    "PROBES",
    "PROTOCOLS",
    "Continue",
    "GenerateProtocol",
    "Generation",
    "GradioProtocol",
    "OpenAIProtocol",
    "Protocol",
    "ProtocolError",
    "RequestSpec",
    "SSEDecoder",
    "SSEEvent",
    "StreamParser",
    "TGIProtocol",
    "error_message",
    "excerpt",
]

PROTOCOLS: dict[str, type[Protocol]] = {
    "generate": GenerateProtocol,
    "tgi": TGIProtocol,
    "gradio": GradioProtocol,
    "openai": OpenAIProtocol,
}


def _json_object(body: bytes) -> dict[str, Any] | None:
    data = json_or_none(body)
    return data if isinstance(data, dict) else None


def _is_tgi(body: bytes) -> bool:
    data = _json_object(body)
    return (
        data is not None
        and "model_id" in data
        and ("max_total_tokens" in data or "router" in data or "max_input_tokens" in data)
    )


def _is_openai(body: bytes) -> bool:
    data = _json_object(body)
    return data is not None and isinstance(data.get("data"), list)


PROBES: tuple[tuple[str, RequestSpec, Callable[[bytes], bool]], ...] = (
    ("gradio", RequestSpec("GET", CONFIG_PATH), is_gradio_config),
    ("tgi", RequestSpec("GET", "/info"), _is_tgi),
    ("openai", RequestSpec("GET", "/v1/models"), _is_openai),
)
"""What ``protocol="auto"`` asks, in order (a Gradio app's ``/config`` first, any version); a
Space matching none speaks the guide's format."""
