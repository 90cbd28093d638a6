"""The OpenAI API's side of the gateway: request bodies in, response objects and errors out.

Plain data, no I/O and no web framework: :func:`parse_chat_request` and
:func:`parse_completion_request` check a decoded body and turn it into our call parameters (a bad
field is a :class:`GatewayError` naming it as ``param``, as OpenAI does); the ``*_object`` and
``*_chunk`` builders give OpenAI's exact response and stream-chunk shapes; :func:`error_for` maps
our typed errors to OpenAI's error shape and an HTTP status.

Status codes of errors from a Space (the caller cannot tell a Space from OpenAI, so the status
says who should act):

====================================  ======  ==============================================
error                                 status  why
====================================  ======  ==============================================
``SpaceInputError``                   400     the request is wrong (``invalid_request_error``)
``SpaceRateLimitError`` / quota       429     slow down (``Retry-After`` when the Space said)
``SpaceUnavailableError`` (asleep,    503     come back later (``Retry-After``; none when the
connection, 5xx, paused, crashed)             Hub says paused/crashed: it will not wake alone)
``SpacesDisabledError``               503     the operator switched Spaces off
``SpaceTimeoutError``                 504     the Space took too long
``SpaceAuthError``                    502     the Space refused *the gateway's* token: not the
                                              caller's fault, so never 401 (which tells an
                                              OpenAI client its own key is wrong)
other errors from a Space             502     the Space misbehaved (bad answer, 404, ...)
====================================  ======  ==============================================

Messages are our errors' own (tier, Space URL, hint; never a token).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._answers import SpaceAnswer
from langchain_hf_spaces._inputs import validate_parameters
from langchain_hf_spaces.config import SpaceConfig
from langchain_hf_spaces.errors import (
    HFSpacesError,
    SpaceAuthError,
    SpaceConfigError,
    SpaceInputError,
    SpacePausedError,
    SpaceQuotaError,
    SpaceRateLimitError,
    SpaceRuntimeError,
    SpacesDisabledError,
    SpaceTimeoutError,
    SpaceUnavailableError,
)

__all__ = [
    "ChatRequest",
    "CompletionRequest",
    "GatewayError",
    "chat_chunk",
    "chat_completion_object",
    "completion_chunk",
    "completion_object",
    "error_for",
    "finish_reason",
    "model_object",
    "parse_chat_request",
    "parse_completion_request",
    "usage_object",
]

OWNED_BY = "hf-spaces"
"""``owned_by`` of a tier whose Space id (and so its owner) is not known."""

EXTENSION = "hf_spaces"
"""The extension field of our responses: the answer's metadata, a model's Space."""


class GatewayError(Exception):
    """An error answered in OpenAI's shape: ``{"error": {message, type, param, code}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def bad_request(message: str, param: str | None, code: str | None = None) -> GatewayError:
    return GatewayError(400, message, param=param, code=code)


def model_not_found(model: str, tiers: Sequence[str]) -> GatewayError:
    known = ", ".join(tiers) or "none"
    return GatewayError(
        404,
        f"The model {model!r} does not exist: a model is a configured tier ({known}).",
        param="model",
        code="model_not_found",
    )


def _retry_after(seconds: float | None) -> dict[str, str]:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return {}
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def _text(exc: HFSpacesError) -> str:
    return str(exc)  # "[tier 'base', Space https://...] message Hint: ..." (never a token)


def error_for(exc: HFSpacesError) -> GatewayError:
    """Our typed error as OpenAI's error shape and an HTTP status (see the module's table)."""
    text = _text(exc)
    if isinstance(exc, SpaceInputError):
        return GatewayError(400, text, type="invalid_request_error")
    if isinstance(exc, SpaceRateLimitError):
        code = "insufficient_quota" if isinstance(exc, SpaceQuotaError) else "rate_limit_exceeded"
        return GatewayError(
            429, text, type="rate_limit_error", code=code, headers=_retry_after(exc.retry_after)
        )
    if isinstance(exc, (SpacePausedError, SpaceRuntimeError)):
        return GatewayError(503, text, type="server_error", code="space_down")
    if isinstance(exc, SpaceUnavailableError):
        wait = getattr(exc, "retry_after", None)
        headers = _retry_after(wait if wait is not None else C.GATEWAY_RETRY_AFTER)
        return GatewayError(
            503, text, type="server_error", code="space_unavailable", headers=headers
        )
    if isinstance(exc, SpacesDisabledError):
        return GatewayError(503, text, type="server_error", code="spaces_disabled")
    if isinstance(exc, SpaceTimeoutError):
        return GatewayError(504, text, type="server_error", code="space_timeout")
    if isinstance(exc, SpaceAuthError):
        return GatewayError(502, text, type="server_error", code="space_auth_failed")
    if isinstance(exc, SpaceConfigError):
        return GatewayError(500, text, type="server_error", code="gateway_config_error")
    return GatewayError(502, text, type="server_error", code="space_error")


# ------------------------------------------------------------------------------ requests
_SAMPLING = {
    # OpenAI name -> our parameter name
    "max_tokens": "max_new_tokens",
    "max_completion_tokens": "max_new_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "seed": "seed",
    "stop": "stop",
    # vendor extensions (vLLM, TGI) our parameters know
    "top_k": "top_k",
    "repetition_penalty": "repetition_penalty",
}
_NATIVE_ONLY = ("frequency_penalty", "presence_penalty", "logit_bias", "logprobs", "top_logprobs")
"""Sent only to ``openai``-protocol Spaces; a text Space refuses a value that changes anything."""
_IGNORED = frozenset(
    {"user", "metadata", "store", "parallel_tool_calls", "service_tier", "stream_options"}
)
"""Accepted and not sent: bookkeeping fields that change nothing about the answer (``user``
chooses the tier's A/B variant: the sticky ``ab_key``)."""
_CHAT_FIELDS = frozenset(
    {"model", "messages", "stream", "n", "tools", "tool_choice", "response_format"}
    | set(_SAMPLING)
    | set(_NATIVE_ONLY)
    | _IGNORED
)
_COMPLETION_FIELDS = frozenset(
    {"model", "prompt", "stream", "n", "echo", "suffix", "best_of"}
    | set(_SAMPLING)
    | set(_NATIVE_ONLY)
    | _IGNORED
)
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


@dataclass
class ChatRequest:
    """A checked ``POST /v1/chat/completions`` body."""

    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    """Our generation parameters (``max_new_tokens``, ``temperature``, ...)."""
    native_params: dict[str, Any] = field(default_factory=dict)
    """OpenAI parameters only a chat-native Space can take."""
    stream: bool = False
    include_usage: bool = False
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    response_format: dict[str, Any] | None = None
    ab_key: str | None = None
    """OpenAI's ``user``: the sticky key choosing the tier's A/B variant (``ab_key``)."""


@dataclass
class CompletionRequest:
    """A checked ``POST /v1/completions`` body."""

    model: str
    prompt: str
    params: dict[str, Any]
    native_params: dict[str, Any] = field(default_factory=dict)
    stream: bool = False
    include_usage: bool = False
    ab_key: str | None = None
    """OpenAI's ``user``: the sticky key choosing the tier's A/B variant (``ab_key``)."""


def _user(data: Mapping[str, Any]) -> str | None:
    """``user`` (an end-user id): the A/B key, so one user always gets one variant."""
    user = data.get("user")
    if user is None:
        return None
    if not isinstance(user, str) or not user:
        raise bad_request("user must be a non-empty string (an id of the end user).", "user")
    return user


def _body(body: Any, fields: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise bad_request("The request body must be a JSON object.", None)
    unknown = sorted(str(k) for k in body if k not in fields)
    if unknown:
        raise bad_request(
            f"Unrecognized request argument supplied: {unknown[0]}", unknown[0], "unknown_parameter"
        )
    return body


def _model(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("you must provide a model parameter (a tier name).", "model")
    return model


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_request(f"{name} must be a boolean, not {json.dumps(value)}.", name)
    return value


def _include_usage(body: Mapping[str, Any], stream: bool) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if not stream:
        raise bad_request("stream_options is only allowed when stream is true.", "stream_options")
    if not isinstance(options, Mapping):
        raise bad_request("stream_options must be an object.", "stream_options")
    value = options.get("include_usage", False)
    if not isinstance(value, bool):
        raise bad_request(
            "stream_options.include_usage must be a boolean.", "stream_options.include_usage"
        )
    return value


def _sampling(body: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    n = body.get("n")
    if n is not None and n != 1:
        raise bad_request("n must be 1: a Space gives one answer per request.", "n")
    if body.get("max_tokens") is not None and body.get("max_completion_tokens") is not None:
        raise bad_request(
            "give max_tokens or max_completion_tokens, not both.", "max_completion_tokens"
        )
    params: dict[str, Any] = {}
    for name, ours in _SAMPLING.items():
        value = body.get(name)
        if value is None:
            continue
        try:
            checked = validate_parameters({ours: value}, tier=None, url=None)
        except SpaceInputError as exc:
            raise bad_request(exc.message.replace(ours, name, 1), name) from None
        params.update(checked)
    native = {k: body[k] for k in _NATIVE_ONLY if body.get(k) is not None}
    return params, native


def _messages(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise bad_request("messages must be a non-empty array.", "messages")
    out = []
    for i, message in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(message, Mapping):
            raise bad_request(f"{where} must be an object.", where)
        role = message.get("role")
        if role not in _ROLES:
            raise bad_request(
                f"{where}.role must be one of {', '.join(sorted(_ROLES))}, not {role!r}.",
                f"{where}.role",
            )
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise bad_request(f"{where}.content must be a string or an array.", f"{where}.content")
        calls = message.get("tool_calls")
        if calls is not None and (role != "assistant" or not isinstance(calls, list)):
            raise bad_request(
                f"{where}.tool_calls must be an array on an assistant message.",
                f"{where}.tool_calls",
            )
        out.append(dict(message))
    return out


def _tools(body: Mapping[str, Any]) -> tuple[list[dict[str, Any]] | None, Any]:
    tools = body.get("tools")
    choice = body.get("tool_choice")
    if tools is None or tools == []:
        if choice not in (None, "none", "auto"):
            raise bad_request("tool_choice is only allowed when tools are given.", "tool_choice")
        return None, None
    if not isinstance(tools, list):
        raise bad_request("tools must be an array.", "tools")
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if (
            not isinstance(tool, Mapping)
            or tool.get("type", "function") != "function"
            or not isinstance(function, Mapping)
            or not isinstance(function.get("name"), str)
            or not function["name"]
        ):
            raise bad_request(
                f"tools[{i}] must be {{'type': 'function', 'function': {{'name': ...}}}}.",
                f"tools[{i}]",
            )
    return [dict(t) for t in tools], choice


def _response_format(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, Mapping) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return dict(value)
    if kind == "json_schema":
        inner = value.get("json_schema")
        if not isinstance(inner, Mapping) or not isinstance(inner.get("schema", {}), Mapping):
            raise bad_request(
                "response_format.json_schema must be an object with a 'schema' object.",
                "response_format.json_schema",
            )
        return dict(value)
    raise bad_request(
        "response_format.type must be 'text', 'json_object' or 'json_schema'.",
        "response_format.type",
    )


def parse_chat_request(body: Any) -> ChatRequest:
    """Check a chat completion body; a problem is a 400 :class:`GatewayError` naming the field."""
    data = _body(body, _CHAT_FIELDS)
    model = _model(data)
    stream = _flag(data, "stream")
    params, native = _sampling(data)
    tools, choice = _tools(data)
    return ChatRequest(
        model=model,
        messages=_messages(data.get("messages")),
        params=params,
        native_params=native,
        stream=stream,
        include_usage=_include_usage(data, stream),
        tools=tools,
        tool_choice=choice,
        response_format=_response_format(data.get("response_format")),
        ab_key=_user(data),
    )


def parse_completion_request(body: Any) -> CompletionRequest:
    """Check a (legacy) completion body: one prompt string (or a list of one)."""
    data = _body(body, _COMPLETION_FIELDS)
    model = _model(data)
    prompt = data.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise bad_request(
            "prompt must be a string (or an array of one string): a Space answers one prompt "
            "per request.",
            "prompt",
        )
    for name in ("echo",):
        if _flag(data, name):
            raise bad_request(f"{name} is not supported by the gateway.", name)
    if data.get("suffix"):
        raise bad_request("suffix is not supported by the gateway.", "suffix")
    if data.get("best_of") not in (None, 1):
        raise bad_request("best_of must be 1.", "best_of")
    stream = _flag(data, "stream")
    params, native = _sampling(data)
    return CompletionRequest(
        model=model,
        prompt=prompt,
        params=params,
        native_params=native,
        stream=stream,
        include_usage=_include_usage(data, stream),
        ab_key=_user(data),
    )


# ----------------------------------------------------------------------------- responses
def finish_reason(answer: SpaceAnswer | None, *, tool_calls: bool, cut: bool) -> str:
    """OpenAI's ``finish_reason``: ``tool_calls``, ``length`` or ``stop``."""
    if tool_calls:
        return "tool_calls"
    raw = (answer.finish_reason or "") if answer is not None else ""
    if raw == "length" and not cut:
        return "length"
    if raw == "content_filter":
        return raw
    return "stop"


def usage_object(answer: SpaceAnswer | None) -> dict[str, Any]:
    """OpenAI's ``usage``. A count the Space did not report is 0 (OpenAI clients need numbers;
    ``hf_spaces.usage_reported`` says whether they are real)."""
    inp = (answer.prompt_tokens or 0) if answer is not None else 0
    out = (answer.completion_tokens or 0) if answer is not None else 0
    return {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out}


def answer_extension(answer: SpaceAnswer | None) -> dict[str, Any]:
    """Where the answer came from (tier, Space URL, protocol, latency, fallback, variant...)."""
    if answer is None:
        return {}
    data = answer.metadata
    data.pop("tool_calls", None)
    data.pop("reasoning", None)
    data["usage_reported"] = (
        answer.prompt_tokens is not None and answer.completion_tokens is not None
    )
    return data


def _choice(reason: str | None, **content: Any) -> dict[str, Any]:
    """The one choice of an answer or chunk (``message``, ``delta`` or ``text``)."""
    return {"index": 0, **content, "logprobs": None, "finish_reason": reason}


def _envelope(
    kind: str, completion_id: str, created: int, model: str, choices: list[dict[str, Any]]
) -> dict[str, Any]:
    """What every completion object and chunk starts with."""
    return {
        "id": completion_id,
        "object": kind,
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": choices,
    }


def _answered(body: dict[str, Any], answer: SpaceAnswer | None) -> dict[str, Any]:
    """A whole answer's object: its usage and where it came from."""
    body["usage"] = usage_object(answer)
    body[EXTENSION] = answer_extension(answer)
    return body


def _streamed(
    body: dict[str, Any],
    include_usage: bool,
    usage: dict[str, Any] | None,
    extension: dict[str, Any] | None,
) -> dict[str, Any]:
    """A chunk: ``usage`` on every chunk when asked for (null but on the last), the extension
    on the last."""
    if include_usage:
        body["usage"] = usage
    if extension:
        body[EXTENSION] = extension
    return body


def chat_completion_object(
    *,
    completion_id: str,
    created: int,
    model: str,
    content: str | None,
    tool_calls: list[dict[str, Any]],
    reason: str,
    answer: SpaceAnswer | None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if answer is not None and answer.reasoning:
        message["reasoning_content"] = answer.reasoning
    choices = [_choice(reason, message=message)]
    return _answered(_envelope("chat.completion", completion_id, created, model, choices), answer)


def chat_chunk(
    *,
    completion_id: str,
    created: int,
    model: str,
    delta: dict[str, Any] | None,
    reason: str | None = None,
    include_usage: bool = False,
    usage: dict[str, Any] | None = None,
    extension: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``chat.completion.chunk``; ``delta=None`` is the usage-only last chunk (no choices)."""
    choices = [] if delta is None else [_choice(reason, delta=delta)]
    body = _envelope("chat.completion.chunk", completion_id, created, model, choices)
    return _streamed(body, include_usage, usage, extension)


def completion_object(
    *, completion_id: str, created: int, model: str, text: str, reason: str, answer: SpaceAnswer
) -> dict[str, Any]:
    choices = [_choice(reason, text=text)]
    return _answered(_envelope("text_completion", completion_id, created, model, choices), answer)


def completion_chunk(
    *,
    completion_id: str,
    created: int,
    model: str,
    text: str | None,
    reason: str | None = None,
    include_usage: bool = False,
    usage: dict[str, Any] | None = None,
    extension: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``text_completion`` chunk; ``text=None`` is the usage-only last chunk."""
    choices = [] if text is None else [_choice(reason, text=text)]
    body = _envelope("text_completion", completion_id, created, model, choices)
    return _streamed(body, include_usage, usage, extension)


def model_object(tier: str, config: SpaceConfig, *, default: bool) -> dict[str, Any]:
    """A tier as an OpenAI model: ``owned_by`` is the Space's owner when its id is known, and
    ``hf_spaces`` says which Space(s) answer and how (never a token)."""
    owner = config.space_id.split("/", 1)[0] if config.space_id else OWNED_BY
    space: dict[str, Any] = {
        "tier": tier,
        "default": default,
        "urls": [config.url],
        "protocol": config.protocol,
    }
    if config.space_id:
        space["space_id"] = config.space_id
    if config.revision:
        space["revision"] = config.revision
    variants = config.variant_configs()
    if variants:  # an A/B split: each variant's Space and weight (chosen per call by `user`)
        space["urls"] = [vcfg.url for _, _, vcfg in variants]
        space["variants"] = [
            {"name": name, "weight": weight, "url": vcfg.url} for name, weight, vcfg in variants
        ]
    return {"id": tier, "object": "model", "created": 0, "owned_by": owner, EXTENSION: space}
