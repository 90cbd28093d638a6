"""What every dialect shares: the model stand-in behind them, errors, routes, SSE helpers."""

from __future__ import annotations

import abc
import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from starlette.responses import JSONResponse, Response

from langchain_hf_spaces.testing._channel import Channel
from langchain_hf_spaces.testing._records import RecordedRequest
from langchain_hf_spaces.testing._responders import Responder, ResponderError

__all__ = [
    "Answer",
    "Dialect",
    "ErrorFamily",
    "Exchange",
    "FinishReason",
    "Generation",
    "HTTPError",
    "Handler",
    "Route",
    "TextModel",
    "check_positive_int",
    "error_response",
    "get",
    "inputs_and_parameters",
    "post",
    "split_tokens",
    "sse",
]

ErrorFamily = Literal["hf", "tgi"]
"""How an error body looks: Hugging Face's ``{"error"}`` or TGI's ``{"error", "error_type"}``."""

FinishReason = Literal["length", "eos_token", "stop_sequence"]

Answer = str | dict[str, Any]
"""What a responder returns: text, or (chat only) a tool-call dict."""


class HTTPError(Exception):
    """Answer the request with this status and message (in the route's error family)."""

    def __init__(self, status: int, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type


@dataclass(frozen=True)
class Generation:
    """Text as the model would produce it, after the ``max_new_tokens`` and ``stop`` rules."""

    text: str
    finish_reason: FinishReason
    seed: int | None


class TextModel:
    """The stand-in for a language model that every dialect asks: a responder, plus the
    token limit and stop sequences applied the way a model server applies them."""

    def __init__(self, responder: Responder, *, truncate: bool) -> None:
        self.responder = responder
        self.truncate = truncate

    async def answer(self, prompt: str, parameters: Mapping[str, Any], *, tools: bool) -> Answer:
        """The responder's answer (run in a worker thread); a dict only where ``tools``."""
        try:
            answer = await asyncio.to_thread(self.responder, prompt, dict(parameters))
        except ResponderError as exc:
            raise HTTPError(exc.status, exc.message) from exc
        except Exception as exc:
            raise HTTPError(500, f"Responder failed: {type(exc).__name__}: {exc}") from exc
        if isinstance(answer, dict):
            if not tools:
                raise HTTPError(
                    500,
                    "Responder returned a dict; only /v1/chat/completions supports tool calls",
                )
            return answer
        if not isinstance(answer, str):
            raise HTTPError(
                500, f"Responder returned {type(answer).__name__}, expected str or dict"
            )
        return answer

    async def text(self, prompt: str, parameters: Mapping[str, Any]) -> str:
        """The responder's text answer (a tool-call dict is an error here)."""
        answer = await self.answer(prompt, parameters, tools=False)
        assert isinstance(answer, str)  # answer(tools=False) returns text only
        return answer

    def shape(self, text: str, parameters: Mapping[str, Any]) -> Generation:
        """Cut ``text`` at ``max_new_tokens`` words (when truncating) and at the first stop."""
        limit = parameters.get("max_new_tokens")
        finish: FinishReason = "eos_token"
        if isinstance(limit, int) and limit > 0:
            count = len(text.split())
            if count > limit and self.truncate:
                text = _first_words(text, limit)
                finish = "length"
            elif count >= limit:
                finish = "length"
        stops = parameters.get("stop") or []
        if isinstance(stops, str):
            stops = [stops]
        cut_at = min(
            (i for s in stops if isinstance(s, str) and s and (i := text.find(s)) >= 0),
            default=-1,
        )
        if cut_at >= 0:
            text = text[:cut_at]
            finish = "stop_sequence"
        seed = parameters.get("seed")
        return Generation(
            text=text,
            finish_reason=finish,
            seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        )


@dataclass(frozen=True)
class Exchange:
    """One request being answered by a dialect."""

    request: RecordedRequest
    channel: Channel
    cut: int | None = None
    """For a :meth:`Fault.stream_cut`: how many events to send before hanging up."""

    async def respond(self, response: Response) -> None:
        await self.channel.respond(response)

    async def stream(self, events: list[bytes]) -> None:
        await self.channel.stream(events, self.cut)


Handler = Callable[[Exchange], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    """A handler and the methods it accepts (others get a 405)."""

    methods: frozenset[str]
    handler: Handler


def get(handler: Handler) -> Route:
    return Route(frozenset({"GET", "HEAD"}), handler)


def post(handler: Handler) -> Route:
    return Route(frozenset({"POST"}), handler)


class Dialect(abc.ABC):
    """One wire protocol a Space can speak: its routes, error shape and streaming requests."""

    family: ErrorFamily = "hf"
    """The shape of the error bodies on this dialect's paths."""

    @abc.abstractmethod
    def route(self, path: str) -> Route | None:
        """The route serving ``path``, or ``None`` when this dialect has none."""

    def owns(self, path: str) -> bool:
        """True when errors on ``path`` (a 404 included) take this dialect's shape."""
        return self.route(path) is not None

    def streams(self, method: str, path: str, body: Any) -> bool:
        """True when the request asks for a stream (a :meth:`Fault.stream_cut` applies)."""
        return False


# ---------------------------------------------------------------------- helpers


def error_response(
    family: ErrorFamily, status: int, message: str, error_type: str | None = None
) -> JSONResponse:
    """An error body as Hugging Face (``{"error"}``) or TGI (with ``error_type``) sends it."""
    content: dict[str, Any] = {"error": message}
    if family == "tgi":
        if error_type is None:
            error_type = (
                "validation"
                if status in (400, 422)
                else "overloaded"
                if status in (429, 503)
                else "generation"
                if status >= 500
                else "request"
            )
        content["error_type"] = error_type
    return JSONResponse(content, status_code=status)


def check_positive_int(value: Any, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise HTTPError(422, f"`{name}` must be strictly positive", "validation")


def inputs_and_parameters(body: Any, family: ErrorFamily) -> tuple[str, dict[str, Any]]:
    """``inputs`` and ``parameters`` of a guide or TGI request body, checked like TGI does."""
    error_type = "validation" if family == "tgi" else None
    if not isinstance(body, dict):
        raise HTTPError(422, "request body must be a JSON object", error_type)
    prompt = body.get("inputs")
    if not isinstance(prompt, str):
        raise HTTPError(422, "`inputs` must be a string", error_type)
    parameters = body.get("parameters")
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise HTTPError(422, "`parameters` must be an object", error_type)
    max_new_tokens = parameters.get("max_new_tokens")
    if max_new_tokens is not None:
        try:
            check_positive_int(max_new_tokens, "max_new_tokens")
        except HTTPError as exc:
            raise HTTPError(422, exc.message, error_type) from None
    return prompt, parameters


def split_tokens(text: str) -> list[str]:
    """Whitespace tokens, each with its trailing whitespace; ``"".join(tokens) == text``."""
    lead = text[: len(text) - len(text.lstrip())]
    tokens = re.findall(r"\S+\s*", text[len(lead) :])
    if lead:
        if tokens:
            tokens[0] = lead + tokens[0]
        else:
            tokens = [lead]
    return tokens


def sse(payload: Mapping[str, Any]) -> bytes:
    """One Server-Sent Event carrying ``payload`` as compact JSON."""
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def _first_words(text: str, limit: int) -> str:
    for index, match in enumerate(re.finditer(r"\S+", text)):
        if index == limit - 1:
            return text[: match.end()]
    return text
