"""Text Generation Inference: ``POST /generate`` and ``POST /generate_stream`` (SSE).

Each stream event carries one token; the last carries ``generated_text`` and ``details``
(``finish_reason``, ``generated_tokens``). Errors arrive as ``{"error", "error_type"}``, also
inside a stream.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from langchain_hf_spaces.protocols._base import (
    Generation,
    Protocol,
    ProtocolError,
    RequestSpec,
    StreamParser,
    int_or_none,
    str_or_none,
)
from langchain_hf_spaces.protocols._sse import SSEEvent
from langchain_hf_spaces.protocols.generate import parse_generated_text, strip_echo

__all__ = ["TGIProtocol", "tgi_error_kind", "tgi_parameters"]

MAX_STOP_SEQUENCES = 4
_TGI_PARAMETERS = (
    "max_new_tokens",
    "temperature",
    "top_p",
    "top_k",
    "repetition_penalty",
    "stop",
    "seed",
    "do_sample",
    "return_full_text",
    "details",
    "typical_p",
    "truncate",
    "watermark",
    "decoder_input_details",
    "frequency_penalty",
    "best_of",
    "grammar",
    "top_n_tokens",
)


_ERROR_KINDS = {
    "validation": "validation",
    "template_error": "validation",
    "tool_error": "validation",
    "tokenizer": "validation",
    "generation": "generation",
    "incomplete_generation": "generation",
    "overloaded": "overloaded",
}
"""TGI's ``error_type`` values (``router/src/infer``) and what each means for the caller:
``validation`` (the request is wrong: fix it), ``generation`` (the model failed: a server
failure, worth a retry), ``overloaded`` (busy: retry later)."""


def tgi_error_kind(data: Any) -> str | None:
    """``"validation"``, ``"generation"`` or ``"overloaded"`` for a TGI error body
    ``{"error", "error_type"}`` (parsed JSON), else ``None``."""
    if not isinstance(data, Mapping) or not isinstance(data.get("error_type"), str):
        return None
    return _ERROR_KINDS.get(data["error_type"].lower())


def tgi_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Our validated parameters in TGI's terms: nothing TGI's router refuses is sent.

    TGI wants ``temperature > 0``, ``0 < top_p < 1``, ``0 < typical_p < 1`` and ``top_k > 0``
    (``router/src/validation.rs``). So ``temperature: 0`` means greedy decoding (the
    temperature is left out and ``do_sample: false`` sent), and the values that mean "no
    filtering" (``top_p: 1``, ``typical_p: 1``, ``top_k: 0``) are left out.
    """
    out: dict[str, Any] = {}
    for name, value in parameters.items():
        if name not in _TGI_PARAMETERS:
            raise ProtocolError(
                f"TGI has no parameter {name!r} (it accepts {', '.join(_TGI_PARAMETERS)}).",
                kind="input",
            )
        out[name] = value
    if out.get("temperature") == 0:
        del out["temperature"]
        out["do_sample"] = False
    for name, neutral in (("top_p", 1), ("typical_p", 1), ("top_k", 0)):
        if name in out and (out[name] is None or out[name] == neutral):
            del out[name]
    stops = out.get("stop")
    if stops and len(stops) > MAX_STOP_SEQUENCES:
        raise ProtocolError(
            f"TGI takes at most {MAX_STOP_SEQUENCES} stop sequences, got {len(stops)}.",
            kind="input",
        )
    out.setdefault("details", True)
    return out


class _TGIStream(StreamParser):
    def __init__(self, prompt: str) -> None:
        self.prompt = prompt
        self.parts: list[str] = []
        self.final: Generation | None = None
        self.done = False

    def feed(self, event: SSEEvent) -> str:
        if not event.data.strip():
            return ""
        try:
            data = json.loads(event.data)
        except (ValueError, RecursionError):
            raise ProtocolError("A stream event is not valid JSON.", event.data) from None
        if not isinstance(data, Mapping):
            raise ProtocolError("A stream event is not a JSON object.", event.data)
        if "error" in data:
            kind = tgi_error_kind(data) or "app"
            raise ProtocolError(f"The Space reported: {data['error']}", kind=kind)
        token = data.get("token")
        text = ""
        if isinstance(token, Mapping):
            if not token.get("special"):
                text = str_or_none(token.get("text")) or ""
        elif "generated_text" not in data:
            raise ProtocolError('A stream event has neither "token" nor "error".', event.data)
        self.parts.append(text)
        full = data.get("generated_text")
        if isinstance(full, str):
            details = data.get("details")
            if not isinstance(details, Mapping):
                details = {}
            self.final = Generation(
                text=strip_echo(full, self.prompt),
                finish_reason=str_or_none(details.get("finish_reason")),
                completion_tokens=int_or_none(details.get("generated_tokens")),
            )
            self.done = True
        return text

    def result(self) -> Generation:
        if self.final is None:
            return Generation("".join(self.parts))
        return self.final


class TGIProtocol(Protocol):
    name: ClassVar[str] = "tgi"
    supports_streaming: ClassVar[bool] = True

    def accepts(self, parameter: str) -> bool:
        return parameter in _TGI_PARAMETERS

    def info_request(self) -> RequestSpec | None:
        return RequestSpec("GET", "/info")

    def build_request(
        self, prompt: str, parameters: Mapping[str, Any], *, stream: bool = False
    ) -> RequestSpec:
        body = {"inputs": prompt, "parameters": tgi_parameters(parameters)}
        if stream:
            return RequestSpec("POST", "/generate_stream", body, stream=True)
        return RequestSpec("POST", "/generate", body)

    def parse_response(
        self, body: bytes, *, prompt: str, request: RequestSpec | None = None
    ) -> Generation:
        return parse_generated_text(body, prompt=prompt)

    def stream_parser(self, *, prompt: str) -> StreamParser:
        return _TGIStream(prompt)
