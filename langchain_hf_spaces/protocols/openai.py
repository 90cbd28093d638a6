"""OpenAI-compatible chat: ``POST /v1/chat/completions`` (vLLM, TGI's Messages API, llama.cpp).

The chat-native protocol: messages and tools go to the Space as they are. A plain prompt is sent
as one user message. ``usage`` becomes token counts; ``tool_calls`` are parsed into
``{"id", "name", "arguments"}`` dicts (``arguments`` decoded from JSON when it is JSON).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from langchain_hf_spaces.protocols._base import (
    Generation,
    Protocol,
    ProtocolError,
    RequestSpec,
    StreamParser,
    int_or_none,
    json_or_none,
    loads_json,
    str_or_none,
)
from langchain_hf_spaces.protocols._sse import SSEEvent
from langchain_hf_spaces.protocols.tgi import tgi_error_kind

__all__ = ["OpenAIProtocol", "openai_error_kind", "openai_parameters", "parse_tool_calls"]

CHAT_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"
_RENAMES = {"max_new_tokens": "max_tokens", "repetition_penalty": None, "do_sample": None}
_PASS = (
    "temperature",
    "top_p",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "logprobs",
    "top_logprobs",
    "response_format",
    "n",
    "user",
    "top_k",
    "max_tokens",
)


_VALIDATION_TYPES = frozenset(
    {"invalid_request_error", "badrequesterror", "validation", "notfounderror"}
)
_GENERATION_TYPES = frozenset({"server_error", "internalservererror", "generation"})
_OVERLOADED_TYPES = frozenset(
    {"rate_limit_error", "rate_limit_exceeded", "overloaded", "serviceunavailableerror"}
)


def openai_error_kind(data: Any) -> str | None:
    """``"validation"``, ``"generation"`` or ``"overloaded"`` for an OpenAI-style error body
    (parsed JSON): OpenAI's and newer vLLM's ``{"error": {"message", "type", "code"}}``, older
    vLLM's ``{"object": "error", "message", "type"}``; ``None`` when it is neither."""
    if not isinstance(data, Mapping):
        return None
    inner = data.get("error")
    if isinstance(inner, Mapping):
        data = inner
    elif data.get("object") != "error":
        return None
    for key in ("type", "code"):
        value = data.get(key)
        if not isinstance(value, str):
            continue
        value = value.lower()
        if value in _VALIDATION_TYPES:
            return "validation"
        if value in _GENERATION_TYPES:
            return "generation"
        if value in _OVERLOADED_TYPES:
            return "overloaded"
    return None


def openai_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in parameters.items():
        if name in _RENAMES:
            target = _RENAMES[name]
            if target is None:
                continue  # no OpenAI equivalent; sampling is implied by temperature
            out[target] = value
        elif name in _PASS:
            out[name] = value
        else:
            raise ProtocolError(f"OpenAI-compatible chat has no parameter {name!r}.", kind="input")
    return out


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw) if raw.strip() else {}
        except (ValueError, RecursionError):
            return raw  # left as text: the caller reports it as an invalid tool call
    return raw


def parse_tool_calls(raw: Any) -> tuple[dict[str, Any], ...] | None:
    if not raw:
        return None
    if not isinstance(raw, list):
        raise ProtocolError('"tool_calls" is not a list.', json.dumps(raw)[:200])
    calls = []
    for i, call in enumerate(raw):
        fn = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str):
            raise ProtocolError(f"tool call {i} has no function name.", json.dumps(call)[:200])
        calls.append(
            {
                "id": str_or_none(call.get("id")) or f"call_{i}",
                "name": fn["name"],
                "arguments": _arguments(fn.get("arguments")),
            }
        )
    return tuple(calls)


def _usage(data: Mapping[str, Any]) -> tuple[int | None, int | None]:
    usage = data.get("usage")
    if not isinstance(usage, Mapping):
        return None, None
    prompt_tokens = int_or_none(usage.get("prompt_tokens"))
    # A prompt is never empty: TGI's Messages API says 0 when it did not count (unknown).
    return prompt_tokens or None, int_or_none(usage.get("completion_tokens"))


class _ChatStream(StreamParser):
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.finish: str | None = None
        self.tokens: tuple[int | None, int | None] = (None, None)
        self.calls: dict[int, dict[str, Any]] = {}
        self.done = False

    def feed(self, event: SSEEvent) -> str:
        data_text = event.data.strip()
        if not data_text:
            return ""
        if data_text == "[DONE]":
            self.done = True
            return ""
        try:
            data = json.loads(data_text)
        except (ValueError, RecursionError):
            raise ProtocolError("A stream event is not valid JSON.", data_text) from None
        if not isinstance(data, Mapping):
            raise ProtocolError("A stream event is not a JSON object.", data_text)
        if "error" in data:
            err = data["error"]
            msg = err.get("message") if isinstance(err, Mapping) else err
            kind = openai_error_kind(data) or tgi_error_kind(data) or "app"
            raise ProtocolError(f"The Space reported: {msg}", kind=kind)
        if data.get("usage"):
            self.tokens = _usage(data)
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            return ""
        choice = choices[0]
        if not isinstance(choice, Mapping):
            raise ProtocolError("A stream choice is not a JSON object.", data_text)
        self.finish = str_or_none(choice.get("finish_reason")) or self.finish
        delta = choice.get("delta")
        if not isinstance(delta, Mapping):
            return ""
        for call in delta.get("tool_calls") or []:
            if not isinstance(call, Mapping):
                continue
            index = int_or_none(call.get("index")) or 0
            slot = self.calls.setdefault(index, {"id": None, "name": "", "arguments": ""})
            if isinstance(call.get("id"), str):
                slot["id"] = call["id"]
            fn = call.get("function")
            if isinstance(fn, Mapping):
                slot["name"] += str_or_none(fn.get("name")) or ""
                slot["arguments"] += str_or_none(fn.get("arguments")) or ""
        text = str_or_none(delta.get("content")) or ""
        self.parts.append(text)
        return text

    def complete_at_eof(self) -> bool:
        return self.done or self.finish is not None

    def result(self) -> Generation:
        calls = None
        if self.calls:
            calls = tuple(
                {
                    "id": slot["id"] or f"call_{i}",
                    "name": slot["name"],
                    "arguments": _arguments(slot["arguments"]),
                }
                for i, slot in sorted(self.calls.items())
            )
        return Generation(
            "".join(self.parts),
            finish_reason=self.finish,
            prompt_tokens=self.tokens[0],
            completion_tokens=self.tokens[1],
            tool_calls=calls,
        )


class OpenAIProtocol(Protocol):
    name: ClassVar[str] = "openai"
    supports_streaming: ClassVar[bool] = True
    chat_native: ClassVar[bool] = True

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.model: str | None = getattr(config, "model", None)

    def accepts(self, parameter: str) -> bool:
        return parameter in _PASS or _RENAMES.get(parameter) is not None

    def setup_request(self) -> RequestSpec | None:
        # Servers like vLLM want the exact model name: ask once when it was not configured.
        return RequestSpec("GET", MODELS_PATH) if self.model is None else None

    def info_request(self) -> RequestSpec | None:
        return RequestSpec("GET", MODELS_PATH)

    def parse_info(self, body: bytes) -> dict[str, Any] | None:
        """The first model the server lists."""
        data = json_or_none(body)
        models = data.get("data") if isinstance(data, dict) else None
        first = models[0] if isinstance(models, list) and models else None
        return first if isinstance(first, dict) else None

    def setup(self, body: bytes) -> None:
        data = loads_json(body)
        models = data.get("data") if isinstance(data, Mapping) else None
        if isinstance(models, list) and models and isinstance(models[0], Mapping):
            model_id = models[0].get("id")
            if isinstance(model_id, str):
                self.model = model_id
                return
        self.model = "tgi"  # TGI and llama.cpp accept any name

    def build_request(
        self, prompt: str, parameters: Mapping[str, Any], *, stream: bool = False
    ) -> RequestSpec:
        return self.build_chat_request(
            [{"role": "user", "content": prompt}], parameters, stream=stream
        )

    def build_chat_request(
        self,
        messages: Sequence[Mapping[str, Any]],
        parameters: Mapping[str, Any],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        stream: bool = False,
    ) -> RequestSpec:
        body: dict[str, Any] = {
            "model": self.model or "tgi",
            "messages": [dict(m) for m in messages],
            **openai_parameters(parameters),
        }
        if tools:
            body["tools"] = [dict(t) for t in tools]
        if tool_choice is not None:
            body["tool_choice"] = tool_choice
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return RequestSpec("POST", CHAT_PATH, body, stream=stream)

    def parse_response(
        self, body: bytes, *, prompt: str, request: RequestSpec | None = None
    ) -> Generation:
        return self.parse_chat_response(body)

    def parse_chat_response(self, body: bytes, *, request: RequestSpec | None = None) -> Generation:
        data = loads_json(body)
        if not isinstance(data, Mapping):
            raise ProtocolError("The chat answer is not a JSON object.", body)
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            raise ProtocolError('The chat answer has no "choices".', body)
        message = choices[0].get("message")
        if not isinstance(message, Mapping):
            raise ProtocolError('The chat answer\'s first choice has no "message".', body)
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            raise ProtocolError('"message.content" is not a string.', body)
        prompt_tokens, completion_tokens = _usage(data)
        return Generation(
            text=content or "",
            finish_reason=str_or_none(choices[0].get("finish_reason")),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            tool_calls=parse_tool_calls(message.get("tool_calls")),
        )

    def stream_parser(self, *, prompt: str) -> StreamParser:
        return _ChatStream()
