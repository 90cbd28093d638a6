"""The OpenAI-compatible dialect (as TGI, vLLM and llama.cpp serve it):
``POST /v1/chat/completions`` (streaming, usage, native tool calls), ``POST /v1/completions``
and ``GET /v1/models``.

As strict as a deployment: 422 with ``{"error", "error_type": "validation"}`` (TGI's shape;
vLLM answers 400) for ``n`` other than 1 (one choice is all it returns), for ``tools`` or
``response_format`` when the Space is built without them, and for ``max_tokens`` above its cap.

The messages are rendered with ChatML before the responder sees them (``parameters`` also
carries the raw ``messages``, ``tools`` and ``tool_choice``). A responder may answer a dict
``{"tool_calls": [{"name", "arguments"}], "content"?}`` to call tools.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse

from langchain_hf_spaces.testing._dialects._base import (
    Dialect,
    Exchange,
    HTTPError,
    Route,
    TextModel,
    check_positive_int,
    get,
    post,
    split_tokens,
    sse,
)

__all__ = ["OPENAI_MODEL_ID", "OpenAIDialect"]

OPENAI_MODEL_ID = "local-demo"
"""The model ``GET /v1/models`` lists, and that answers name when the request names none."""

_PASSED_THROUGH = ("temperature", "top_p", "seed", "tools", "tool_choice", "response_format")


class OpenAIDialect(Dialect):
    """Chat completions and the model list; errors in TGI's shape (TGI serves these too)."""

    family = "tgi"

    def __init__(
        self,
        model: TextModel,
        *,
        max_tokens_cap: int | None = None,
        tools: bool = True,
        response_format: bool = True,
    ) -> None:
        self.model = model
        self.max_tokens_cap = max_tokens_cap
        self.tools = tools
        self.response_format = response_format
        self._routes = {
            "/v1/chat/completions": post(self._chat),
            "/v1/completions": post(self._completion),
            "/v1/models": get(self._models),
        }
        self._lock = threading.Lock()
        self._completions = itertools.count(1)
        self._tool_calls = itertools.count(0)

    def route(self, path: str) -> Route | None:
        return self._routes.get(path)

    def owns(self, path: str) -> bool:
        return path.startswith("/v1/chat/") or path in ("/v1/models", "/v1/completions")

    def streams(self, method: str, path: str, body: Any) -> bool:
        return (
            method == "POST"
            and path in ("/v1/chat/completions", "/v1/completions")
            and isinstance(body, dict)
            and body.get("stream") is True
        )

    async def _models(self, exchange: Exchange) -> None:
        model = {
            "id": OPENAI_MODEL_ID,
            "object": "model",
            "created": 0,
            "owned_by": "langchain-hf-spaces",
        }
        await exchange.respond(JSONResponse({"object": "list", "data": [model]}))

    async def _chat(self, exchange: Exchange) -> None:
        body = exchange.request.json
        if not isinstance(body, dict):
            raise HTTPError(422, "request body must be a JSON object", "validation")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise HTTPError(422, "`messages` must be a non-empty list", "validation")
        prompt = _render_chat(messages)
        parameters = self._parameters(body)
        parameters["messages"] = messages

        answer = await self.model.answer(prompt, parameters, tools=True)
        with self._lock:
            completion_id = f"chatcmpl-local-{next(self._completions)}"
        head = _Head(completion_id, int(time.time()), body.get("model") or OPENAI_MODEL_ID)
        prompt_tokens = len(prompt.split())

        content: str | None
        tool_calls: list[dict[str, Any]] = []
        if isinstance(answer, dict):
            content, tool_calls = self._calls(answer)
            finish_reason = "tool_calls" if tool_calls else "stop"
            completion_tokens = len((content or "").split()) + sum(
                len(call["function"]["arguments"].split()) + 1 for call in tool_calls
            )
        else:
            generation = self.model.shape(answer, parameters)
            content = generation.text
            finish_reason = "length" if generation.finish_reason == "length" else "stop"
            completion_tokens = len(content.split())
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }

        if body.get("stream") is not True:
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if tool_calls:
                message["tool_calls"] = tool_calls
            choice = {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason,
            }
            completion = head.body("chat.completion", choices=[choice], usage=usage)
            await exchange.respond(JSONResponse(completion))
            return
        events = _chunks(head, content, tool_calls, finish_reason)
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            events.append(sse(head.body("chat.completion.chunk", choices=[], usage=usage)))
        events.append(b"data: [DONE]\n\n")
        await exchange.stream(events)

    def _parameters(self, body: dict[str, Any]) -> dict[str, Any]:
        """The request's sampling parameters, refused as a deployment refuses them."""
        n = body.get("n")
        if n is not None and n != 1:
            raise HTTPError(
                422, f"`n` must be 1: this server returns one choice. Given: {n}", "validation"
            )
        for name, supported in (("tools", self.tools), ("response_format", self.response_format)):
            if body.get(name) is not None and not supported:
                raise HTTPError(422, f"`{name}` is not supported by this server", "validation")
        parameters: dict[str, Any] = {}
        max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
        if max_tokens is not None:
            check_positive_int(max_tokens, "max_tokens")
            cap = self.max_tokens_cap
            if cap is not None and max_tokens > cap:
                raise HTTPError(
                    422, f"`max_tokens` must be <= {cap}. Given: {max_tokens}", "validation"
                )
            parameters["max_new_tokens"] = max_tokens
        for key in _PASSED_THROUGH:
            if body.get(key) is not None:
                parameters[key] = body[key]
        stop = body.get("stop")
        if stop is not None:
            parameters["stop"] = [stop] if isinstance(stop, str) else stop
        return parameters

    async def _completion(self, exchange: Exchange) -> None:
        """``/v1/completions``: a prompt in, ``choices[0].text`` out (streamed per token)."""
        body = exchange.request.json
        if not isinstance(body, dict):
            raise HTTPError(422, "request body must be a JSON object", "validation")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise HTTPError(422, "`prompt` must be a non-empty string", "validation")
        parameters = self._parameters(body)
        generation = self.model.shape(await self.model.text(prompt, parameters), parameters)
        finish = "length" if generation.finish_reason == "length" else "stop"
        with self._lock:
            completion_id = f"cmpl-local-{next(self._completions)}"
        head = _Head(completion_id, int(time.time()), body.get("model") or OPENAI_MODEL_ID)
        prompt_tokens = len(prompt.split())
        completion_tokens = len(generation.text.split())
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if body.get("stream") is not True:
            choice = {
                "index": 0,
                "text": generation.text,
                "logprobs": None,
                "finish_reason": finish,
            }
            await exchange.respond(
                JSONResponse(head.body("text_completion", choices=[choice], usage=usage))
            )
            return
        events = [
            sse(
                head.body(
                    "text_completion",
                    choices=[{"index": 0, "text": token, "logprobs": None, "finish_reason": None}],
                )
            )
            for token in split_tokens(generation.text)
        ]
        last = {"index": 0, "text": "", "logprobs": None, "finish_reason": finish}
        events.append(sse(head.body("text_completion", choices=[last])))
        events.append(b"data: [DONE]\n\n")
        await exchange.stream(events)

    def _calls(self, answer: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
        """The content and OpenAI-shaped tool calls of a responder's tool-call dict."""
        raw_calls = answer.get("tool_calls", [])
        content = answer.get("content")
        if not isinstance(raw_calls, list) or (
            content is not None and not isinstance(content, str)
        ):
            raise HTTPError(500, "Responder dict must be {'tool_calls': [...], 'content'?: str}")
        calls: list[dict[str, Any]] = []
        for raw in raw_calls:
            if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
                raise HTTPError(500, "each tool call needs a 'name' (str) and 'arguments'")
            arguments = raw.get("arguments", {})
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments)
            with self._lock:
                call_id = f"call_{next(self._tool_calls)}"
            calls.append(
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": raw["name"], "arguments": arguments},
                }
            )
        return content, calls


@dataclass(frozen=True)
class _Head:
    """What every body and chunk of one completion repeats."""

    id: str
    created: int
    model: str

    def body(self, kind: str, **rest: Any) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": kind,
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "local-space",
            **rest,
        }


def _chunks(
    head: _Head,
    content: str | None,
    tool_calls: list[dict[str, Any]],
    finish_reason: str,
) -> list[bytes]:
    """The stream of a chat answer: role, one chunk per token, each tool call's name and then
    its arguments in two halves, and the finish reason."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse(head.body("chat.completion.chunk", choices=[choice]))

    events = [chunk({"role": "assistant", "content": "" if not tool_calls else None})]
    events.extend(chunk({"content": token}) for token in split_tokens(content or ""))
    for index, call in enumerate(tool_calls):
        function = call["function"]
        opening = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": function["name"], "arguments": ""},
        }
        events.append(chunk({"tool_calls": [opening]}))
        arguments: str = function["arguments"]
        half = len(arguments) // 2
        for piece in (arguments[:half], arguments[half:]):
            if piece:
                events.append(
                    chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                )
    events.append(chunk({}, finish_reason))
    return events


def _render_chat(messages: list[Any]) -> str:
    """The messages as one ChatML prompt (what the responder sees)."""
    parts: list[str] = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise HTTPError(422, "each message needs a `role` and `content`", "validation")
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(
                part.get("text", "")
                for part in content
                if isinstance(part, dict) and isinstance(part.get("text", ""), str)
            )
        elif content is None:
            content = ""
        elif not isinstance(content, str):
            raise HTTPError(422, "message `content` must be a string or a list", "validation")
        if message.get("tool_calls"):
            content += json.dumps(message["tool_calls"])
        parts.append(f"<|im_start|>{message['role']}\n{content}<|im_end|>\n")
    parts.append("<|im_start|>assistant\n")
    return "".join(parts)
