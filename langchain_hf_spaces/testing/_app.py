"""The ASGI application behind :class:`~langchain_hf_spaces.testing.LocalSpace`.

It speaks four dialects over one responder: the user guide's ``/api/generate`` (and versioned
``/v1/generate`` style paths), Text Generation Inference (``/generate``, ``/generate_stream``,
``/info``, ``/health``), OpenAI-compatible chat (``/v1/chat/completions``, ``/v1/models``), and
a small HTML index page. Faults are applied on the raw ASGI channel so that they are real on
the socket (truncated bodies, closed connections, cut streams).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import json
import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal, NoReturn

from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

from langchain_hf_spaces.testing._faults import Fault, SleepForm
from langchain_hf_spaces.testing._responders import Responder, ResponderError

__all__ = ["AnswerShape", "RecordedRequest", "SpaceApp"]

AnswerShape = Literal["object", "list", "echo"]
"""How the guide's ``/api/generate`` route answers.

``"object"``: ``{"generated_text": ...}``; ``"list"``: ``[{"generated_text": ...}]`` (the
Inference API shape); ``"echo"``: ``{"generated_text": prompt + text}`` (``return_full_text``).
"""

DEFAULT_MODEL_ID = "langchain-hf-spaces/local-demo"
OPENAI_MODEL_ID = "local-demo"
MAX_STOP_SEQUENCES = 4
_SENSITIVE_HEADERS = frozenset({"authorization", "x-hf-authorization", "cookie", "x-api-key"})
_ErrorFamily = Literal["hf", "tgi"]


@dataclass(frozen=True, repr=False)
class RecordedRequest:
    """One request as the Space received it (recorded before it was answered).

    ``headers`` has lower-case keys (repeated headers are joined with ``", "``) and holds the
    real values, including ``authorization``; ``repr()`` redacts credentials so that a failing
    assertion does not print a token.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    """The body parsed as JSON, or ``None`` when it is empty or not JSON."""
    timestamp: float = 0.0
    """``time.monotonic()`` when the request was recorded (for backoff timing tests)."""
    fault: Fault | None = None
    """The injected fault this request received, if any."""
    stream: bool = False
    """True for streaming requests (``/generate_stream``, chat with ``"stream": true``)."""

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        shown = {
            key: ("<redacted>" if key in _SENSITIVE_HEADERS else value)
            for key, value in self.headers.items()
        }
        query = f"?{self.query}" if self.query else ""
        fault = f", fault={self.fault!r}" if self.fault is not None else ""
        body = self.body if len(self.body) <= 200 else self.body[:200] + b"..."
        return (
            f"RecordedRequest({self.method} {self.path}{query}, headers={shown!r}, "
            f"body={body!r}{fault})"
        )


@dataclass
class _QueuedFault:
    fault: Fault
    remaining: int | None
    path: str | None


@dataclass
class _Generation:
    text: str
    finish_reason: Literal["length", "eos_token", "stop_sequence"]
    seed: int | None


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type


class _ConnectionGone(Exception):
    """The connection was closed on purpose (or the server is stopping); answer nothing."""


_Answer = str | dict[str, Any]


@dataclass
class SpaceState:
    """Everything a :class:`LocalSpace` shares between the caller's thread and the server's."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: deque[_QueuedFault] = field(default_factory=deque)
    sleep_until: float = 0.0
    sleep_form: SleepForm = "html"
    in_flight: int = 0
    peak_in_flight: int = 0
    tool_call_counter: int = 0
    completion_counter: int = 0

    def take_fault(self, path: str, streaming: bool) -> Fault | None:
        with self.lock:
            for queued in self.faults:
                if queued.path is not None and queued.path != path:
                    continue
                if queued.fault.streaming_only and not streaming:
                    continue
                if queued.remaining is not None:
                    queued.remaining -= 1
                    if queued.remaining <= 0:
                        self.faults.remove(queued)
                return queued.fault
        return None

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        with self.lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self.lock:
                self.in_flight -= 1


class SpaceApp:
    """The ASGI 3 application of a :class:`LocalSpace` (usable on its own with any server,
    although the connection-level faults need uvicorn's h11 protocol)."""

    def __init__(
        self,
        *,
        name: str,
        token: str | None,
        responder: Responder,
        answer_shape: AnswerShape,
        model_id: str,
        stream_delay: float,
        truncate: bool,
        state: SpaceState,
    ) -> None:
        self.name = name
        self._token = token
        self.responder = responder
        self.answer_shape = answer_shape
        self.model_id = model_id
        self.stream_delay = stream_delay
        self.truncate = truncate
        self.state = state
        self._stopping: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"SpaceApp(name={self.name!r}, private={self._token is not None})"

    # ------------------------------------------------------------------ lifecycle hooks

    def bind_stop_event(self, event: asyncio.Event) -> None:
        """Called in the server's loop; setting the event ends slow faults and stream delays."""
        self._stopping = event

    def signal_stop(self) -> None:
        """Called in the server's loop when the server stops."""
        if self._stopping is not None:
            self._stopping.set()

    @property
    def private(self) -> bool:
        """True when requests need a bearer token."""
        return self._token is not None

    async def _pause(self, seconds: float, send: Send, receive: Receive) -> None:
        """Sleep, unless the server stops first: then close the connection and give up."""
        if seconds <= 0:
            return
        stopping = self._stopping
        if stopping is None:
            await asyncio.sleep(seconds)
            return
        try:
            await asyncio.wait_for(stopping.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return
        await _close_connection(send, receive, rst=False)
        raise _ConnectionGone

    # ------------------------------------------------------------------ ASGI entry point

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1003})
            return
        body = await _read_body(receive)
        if body is None:  # client went away before sending its body
            return
        method: str = scope["method"]
        path: str = scope["path"]
        headers: dict[str, str] = {}
        for raw_key, raw_value in scope["headers"]:
            key = raw_key.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        parsed: Any = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        streaming = method == "POST" and (
            path == "/generate_stream"
            or (
                path == "/v1/chat/completions"
                and isinstance(parsed, dict)
                and parsed.get("stream") is True
            )
        )
        fault = self.state.take_fault(path, streaming)
        record = RecordedRequest(
            method=method,
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=body,
            json=parsed,
            timestamp=time.monotonic(),
            fault=fault,
            stream=streaming,
        )
        with self.state.lock:
            self.state.requests.append(record)
        family: _ErrorFamily = "tgi" if _is_tgi_path(path) else "hf"
        with self.state.track():
            try:
                await self._answer(scope, receive, send, record, family)
            except _ConnectionGone:
                return

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request: RecordedRequest,
        family: _ErrorFamily,
    ) -> None:
        fault = request.fault
        if fault is not None and fault.kind not in ("slow", "stream_cut"):
            await self._send_fault(fault, scope, receive, send, family)
            return
        if fault is not None and fault.kind == "slow":
            await self._pause(fault.seconds, send, receive)

        if self._token is not None and not self._authorized(request.headers):
            # Hugging Face's proxy answers this, before the request reaches the Space's server.
            response: Response = _error_response(
                "hf", 401, "Invalid credentials in Authorization header"
            )
            await response(scope, receive, send)
            return

        with self.state.lock:
            remaining = self.state.sleep_until - time.monotonic()
            form = self.state.sleep_form
        if remaining > 0:
            await self._sleeping_response(form, remaining, 503)(scope, receive, send)
            return

        cut = fault.after_events if fault is not None and fault.kind == "stream_cut" else None
        try:
            await self._route(scope, receive, send, request, family, cut)
        except _HTTPError as exc:
            await _error_response(family, exc.status, exc.message, exc.error_type)(
                scope, receive, send
            )

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        assert self._token is not None
        expected = f"Bearer {self._token}".encode()
        for name in ("authorization", "x-hf-authorization"):
            value = headers.get(name)
            if value is None:
                continue
            scheme, _, credentials = value.partition(" ")
            offered = f"Bearer {credentials.strip()}".encode()
            if scheme.lower() == "bearer" and hmac.compare_digest(offered, expected):
                return True
        return False

    # ------------------------------------------------------------------ routing

    async def _route(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request: RecordedRequest,
        family: _ErrorFamily,
        cut: int | None,
    ) -> None:
        method, path = request.method, request.path
        getters = {
            "/": self._index,
            "/health": _health,
            "/info": self._info,
            "/v1/models": self._models,
        }
        if path in getters:
            if method not in ("GET", "HEAD"):
                raise _HTTPError(405, "Method Not Allowed")
            await getters[path]()(scope, receive, send)
            return
        if path == "/generate_stream" or path == "/v1/chat/completions" or _is_generate(path):
            if method != "POST":
                raise _HTTPError(405, "Method Not Allowed")
            if path == "/generate":
                await (await self._tgi_generate(request))(scope, receive, send)
            elif path == "/generate_stream":
                await self._tgi_stream(request, send, receive, cut)
            elif path == "/v1/chat/completions":
                await self._chat(request, scope, send, receive, cut)
            else:
                await (await self._guide_generate(request))(scope, receive, send)
            return
        await _error_response(family, 404, "Not Found")(scope, receive, send)

    # ------------------------------------------------------------------ simple pages

    def _index(self) -> Response:
        name = html.escape(self.name)
        page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{name} - LocalSpace</title></head>
<body>
<h1>{name}</h1>
<p>A local stand-in for a Hugging Face Space, served by <code>langchain-hf-spaces</code>
(<code>langchain_hf_spaces.testing.LocalSpace</code>). Its answers come from a deterministic
responder, not from a language model.</p>
<ul>
<li><code>POST /api/generate</code> (also <code>/v1/generate</code>, ...):
<code>{{"inputs", "parameters"}}</code> &rarr; <code>{{"generated_text"}}</code></li>
<li>Text Generation Inference: <code>POST /generate</code>, <code>POST /generate_stream</code>,
<code>GET /info</code>, <code>GET /health</code></li>
<li>OpenAI-compatible: <code>POST /v1/chat/completions</code>, <code>GET /v1/models</code></li>
</ul>
</body></html>
"""
        return HTMLResponse(page)

    def _info(self) -> Response:
        return JSONResponse(
            {
                "model_id": self.model_id,
                "model_sha": None,
                "model_dtype": "float32",
                "model_device_type": "cpu",
                "model_pipeline_tag": "text-generation",
                "max_concurrent_requests": 128,
                "max_best_of": 2,
                "max_stop_sequences": MAX_STOP_SEQUENCES,
                "max_input_tokens": 4096,
                "max_total_tokens": 8192,
                "validation_workers": 2,
                "max_client_batch_size": 4,
                "router": "text-generation-router",
                "version": "3.0.0-local",
                "sha": None,
                "docker_label": None,
            }
        )

    def _models(self) -> Response:
        return JSONResponse(
            {
                "object": "list",
                "data": [
                    {
                        "id": OPENAI_MODEL_ID,
                        "object": "model",
                        "created": 0,
                        "owned_by": "langchain-hf-spaces",
                    }
                ],
            }
        )

    def _sleeping_response(self, form: SleepForm, estimated: float, status: int) -> Response:
        if form == "json":
            return JSONResponse(
                {"error": "Model is currently loading", "estimated_time": round(estimated, 3)},
                status_code=status,
            )
        name = html.escape(self.name)
        page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{name} - a Hugging Face Space by langchain-hf-spaces</title></head>
<body>
<main>
<h1>{name}</h1>
<p>This Space is sleeping due to inactivity.</p>
<p>Restarting this Space... Space is building. Estimated time: {estimated:.0f}s.</p>
</main>
</body></html>
"""
        return HTMLResponse(page, status_code=status)

    # ------------------------------------------------------------------ generation core

    async def _call_responder(
        self, prompt: str, parameters: dict[str, Any], allow_dict: bool
    ) -> _Answer:
        try:
            answer = await asyncio.to_thread(self.responder, prompt, dict(parameters))
        except ResponderError as exc:
            raise _HTTPError(exc.status, exc.message) from exc
        except Exception as exc:
            raise _HTTPError(500, f"Responder failed: {type(exc).__name__}: {exc}") from exc
        if isinstance(answer, dict):
            if not allow_dict:
                raise _HTTPError(
                    500,
                    "Responder returned a dict; only /v1/chat/completions supports tool calls",
                )
            return answer
        if not isinstance(answer, str):
            raise _HTTPError(
                500, f"Responder returned {type(answer).__name__}, expected str or dict"
            )
        return answer

    def _shape_text(self, text: str, parameters: Mapping[str, Any]) -> _Generation:
        limit = parameters.get("max_new_tokens")
        finish: Literal["length", "eos_token", "stop_sequence"] = "eos_token"
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
        return _Generation(
            text=text,
            finish_reason=finish,
            seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        )

    async def _generate_text(
        self, prompt: str, parameters: dict[str, Any]
    ) -> tuple[_Generation, str]:
        answer = await self._call_responder(prompt, parameters, allow_dict=False)
        assert isinstance(answer, str)
        generation = self._shape_text(answer, parameters)
        full = generation.text
        if parameters.get("return_full_text", self.answer_shape == "echo"):
            full = prompt + full
        return generation, full

    # ------------------------------------------------------------------ the guide's API

    async def _guide_generate(self, request: RecordedRequest) -> Response:
        prompt, parameters = _inputs_and_parameters(request.json, "hf")
        _, text = await self._generate_text(prompt, parameters)
        if self.answer_shape == "list":
            return JSONResponse([{"generated_text": text}])
        return JSONResponse({"generated_text": text})

    # ------------------------------------------------------------------ TGI

    async def _tgi_generate(self, request: RecordedRequest) -> Response:
        prompt, parameters = _inputs_and_parameters(request.json, "tgi")
        generation, text = await self._tgi_text(prompt, parameters)
        content: dict[str, Any] = {"generated_text": text}
        if parameters.get("details"):
            content["details"] = {
                "finish_reason": generation.finish_reason,
                "generated_tokens": len(generation.text.split()),
                "seed": generation.seed,
                "prefill": [],
                "tokens": [],
            }
        return JSONResponse(content)

    async def _tgi_text(self, prompt: str, parameters: dict[str, Any]) -> tuple[_Generation, str]:
        if not prompt:
            raise _HTTPError(422, "`inputs` cannot be empty", "validation")
        stops = parameters.get("stop") or []
        if isinstance(stops, list) and len(stops) > MAX_STOP_SEQUENCES:
            raise _HTTPError(
                422,
                f"`stop` supports up to {MAX_STOP_SEQUENCES} stop sequences. Given: {len(stops)}",
                "validation",
            )
        generation = self._shape_text(
            await self._tgi_answer(prompt, parameters),
            parameters,
        )
        text = generation.text
        if parameters.get("return_full_text") is True:
            text = prompt + text
        return generation, text

    async def _tgi_answer(self, prompt: str, parameters: dict[str, Any]) -> str:
        answer = await self._call_responder(prompt, parameters, allow_dict=False)
        assert isinstance(answer, str)
        return answer

    async def _tgi_stream(
        self, request: RecordedRequest, send: Send, receive: Receive, cut: int | None
    ) -> None:
        prompt, parameters = _inputs_and_parameters(request.json, "tgi")
        generation, text = await self._tgi_text(prompt, parameters)
        tokens = _split_tokens(generation.text)
        events: list[bytes] = []
        if not tokens:
            tokens = [""]
        for index, token in enumerate(tokens):
            last = index == len(tokens) - 1
            event: dict[str, Any] = {
                "index": index,
                "token": {
                    "id": index,
                    "text": token,
                    "logprob": 0.0,
                    "special": token == "",
                },
                "generated_text": text if last else None,
                "details": (
                    {
                        "finish_reason": generation.finish_reason,
                        "generated_tokens": len(generation.text.split()),
                        "seed": generation.seed,
                    }
                    if last
                    else None
                ),
            }
            events.append(_sse(event))
        await self._send_sse(events, send, receive, cut)

    # ------------------------------------------------------------------ OpenAI-compatible chat

    async def _chat(
        self,
        request: RecordedRequest,
        scope: Scope,
        send: Send,
        receive: Receive,
        cut: int | None,
    ) -> None:
        body = request.json
        if not isinstance(body, dict):
            raise _HTTPError(422, "request body must be a JSON object", "validation")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _HTTPError(422, "`messages` must be a non-empty list", "validation")
        prompt = _render_chat(messages)
        parameters: dict[str, Any] = {"messages": messages}
        max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
        if max_tokens is not None:
            _check_positive_int(max_tokens, "max_tokens")
            parameters["max_new_tokens"] = max_tokens
        for key in ("temperature", "top_p", "seed", "tools", "tool_choice", "response_format"):
            if body.get(key) is not None:
                parameters[key] = body[key]
        stop = body.get("stop")
        if stop is not None:
            parameters["stop"] = [stop] if isinstance(stop, str) else stop

        answer = await self._call_responder(prompt, parameters, allow_dict=True)
        with self.state.lock:
            self.state.completion_counter += 1
            completion_id = f"chatcmpl-local-{self.state.completion_counter}"
        model = body.get("model") or OPENAI_MODEL_ID
        created = int(time.time())
        prompt_tokens = len(prompt.split())

        content: str | None
        tool_calls: list[dict[str, Any]] = []
        if isinstance(answer, dict):
            content, tool_calls = self._tool_calls(answer)
            finish_reason = "tool_calls" if tool_calls else "stop"
            completion_tokens = len((content or "").split()) + sum(
                len(call["function"]["arguments"].split()) + 1 for call in tool_calls
            )
        else:
            generation = self._shape_text(answer, parameters)
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
            await JSONResponse(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "system_fingerprint": "local-space",
                    "choices": [
                        {
                            "index": 0,
                            "message": message,
                            "logprobs": None,
                            "finish_reason": finish_reason,
                        }
                    ],
                    "usage": usage,
                }
            )(scope, receive, send)
            return

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return _sse(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "system_fingerprint": "local-space",
                    "choices": [
                        {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                    ],
                }
            )

        events = [chunk({"role": "assistant", "content": "" if not tool_calls else None})]
        events.extend(chunk({"content": token}) for token in _split_tokens(content or ""))
        for index, call in enumerate(tool_calls):
            function = call["function"]
            events.append(
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": call["id"],
                                "type": "function",
                                "function": {"name": function["name"], "arguments": ""},
                            }
                        ]
                    }
                )
            )
            arguments: str = function["arguments"]
            half = len(arguments) // 2
            for piece in (arguments[:half], arguments[half:]):
                if piece:
                    events.append(
                        chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                    )
        events.append(chunk({}, finish_reason))
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            events.append(
                _sse(
                    {
                        "id": completion_id,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "system_fingerprint": "local-space",
                        "choices": [],
                        "usage": usage,
                    }
                )
            )
        events.append(b"data: [DONE]\n\n")
        await self._send_sse(events, send, receive, cut)

    def _tool_calls(self, answer: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
        raw_calls = answer.get("tool_calls", [])
        content = answer.get("content")
        if not isinstance(raw_calls, list) or (
            content is not None and not isinstance(content, str)
        ):
            raise _HTTPError(500, "Responder dict must be {'tool_calls': [...], 'content'?: str}")
        calls: list[dict[str, Any]] = []
        for raw in raw_calls:
            if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
                raise _HTTPError(500, "each tool call needs a 'name' (str) and 'arguments'")
            arguments = raw.get("arguments", {})
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments)
            with self.state.lock:
                call_id = f"call_{self.state.tool_call_counter}"
                self.state.tool_call_counter += 1
            calls.append(
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": raw["name"], "arguments": arguments},
                }
            )
        return content, calls

    # ------------------------------------------------------------------ raw sending

    async def _send_sse(
        self, events: list[bytes], send: Send, receive: Receive, cut: int | None
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                    (b"x-accel-buffering", b"no"),
                ],
            }
        )
        limit = len(events) if cut is None else min(cut, len(events) - 1)
        for index, event in enumerate(events):
            if index >= limit:
                await _close_connection(send, receive, rst=False)
            if index and self.stream_delay > 0:
                await self._pause(self.stream_delay, send, receive)
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _send_fault(
        self, fault: Fault, scope: Scope, receive: Receive, send: Send, family: _ErrorFamily
    ) -> None:
        kind = fault.kind
        response: Response
        if kind == "drop":
            await _close_connection(send, receive, rst=fault.rst)
        if kind == "reset_mid_body":
            full = json.dumps({"generated_text": "x" * 200}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(full)).encode()),
                    ],
                }
            )
            await send(
                {"type": "http.response.body", "body": full[: len(full) // 2], "more_body": True}
            )
            await _close_connection(send, receive, rst=fault.rst)
        if kind == "status":
            response = Response(
                fault.body,
                status_code=fault.status_code,
                headers=dict(fault.headers),
                media_type=fault.content_type,
            )
        elif kind == "rate_limited":
            response = _error_response(family, 429, "Rate limit reached", "overloaded")
            response.headers.update(dict(fault.headers))
        elif kind == "server_error":
            response = _error_response(
                family, fault.status_code, HTTPStatus(fault.status_code).phrase
            )
        elif kind == "sleeping":
            response = self._sleeping_response(fault.form, fault.estimated_time, fault.status_code)
        elif kind in ("malformed_json", "wrong_shape"):
            response = Response(fault.body, media_type="application/json")
        elif kind == "empty":
            response = Response(b"", media_type="application/json")
        elif kind == "html":
            response = HTMLResponse(
                "<!DOCTYPE html><html><head><title>Hugging Face</title></head>"
                "<body><h1>Sign in</h1><p>This is an HTML page, not an API answer.</p>"
                "</body></html>"
            )
        elif kind == "oversize":
            payload = b'{"generated_text": "' + b"a" * fault.size + b'"}'
            response = Response(payload, media_type="application/json")
        elif kind == "redirect":
            response = Response(
                b"", status_code=fault.status_code, headers={"location": fault.location}
            )
        else:  # pragma: no cover - every kind is handled above
            raise AssertionError(f"unhandled fault kind {kind!r}")
        await response(scope, receive, send)


# ---------------------------------------------------------------------- helpers


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _transport_of(send: Send) -> asyncio.Transport | None:
    """uvicorn's ``send`` is a bound method of its request/response cycle, which holds the
    connection's transport. This is the one place that relies on that detail."""
    owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    return transport if isinstance(transport, asyncio.Transport) else None


async def _close_connection(send: Send, receive: Receive, *, rst: bool) -> NoReturn:
    """Close the client connection now, without completing any response.

    Waits until the server has noticed the disconnect, so that uvicorn neither logs an error
    nor tries to send a 500 of its own.
    """
    transport = _transport_of(send)
    if transport is None:
        raise RuntimeError(
            "LocalSpace connection faults need uvicorn's h11 protocol (transport not found)"
        )
    if rst:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(_until_disconnect(receive), timeout=1.0)
    raise _ConnectionGone


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _is_tgi_path(path: str) -> bool:
    return (
        path in ("/generate", "/generate_stream", "/info", "/health")
        or path.startswith("/v1/chat/")
        or path == "/v1/models"
    )


_GENERATE_PATH = re.compile(r"^(/[A-Za-z0-9._~-]+)*/generate$")


def _is_generate(path: str) -> bool:
    return bool(_GENERATE_PATH.match(path))


def _health() -> Response:
    return Response(b"", status_code=200)


def _error_response(
    family: _ErrorFamily, status: int, message: str, error_type: str | None = None
) -> JSONResponse:
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


def _check_positive_int(value: Any, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise _HTTPError(422, f"`{name}` must be strictly positive", "validation")


def _inputs_and_parameters(body: Any, family: _ErrorFamily) -> tuple[str, dict[str, Any]]:
    error_type = "validation" if family == "tgi" else None
    if not isinstance(body, dict):
        raise _HTTPError(422, "request body must be a JSON object", error_type)
    prompt = body.get("inputs")
    if not isinstance(prompt, str):
        raise _HTTPError(422, "`inputs` must be a string", error_type)
    parameters = body.get("parameters")
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise _HTTPError(422, "`parameters` must be an object", error_type)
    max_new_tokens = parameters.get("max_new_tokens")
    if max_new_tokens is not None:
        try:
            _check_positive_int(max_new_tokens, "max_new_tokens")
        except _HTTPError as exc:
            raise _HTTPError(422, exc.message, error_type) from None
    return prompt, parameters


def _render_chat(messages: list[Any]) -> str:
    parts: list[str] = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise _HTTPError(422, "each message needs a `role` and `content`", "validation")
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
            raise _HTTPError(422, "message `content` must be a string or a list", "validation")
        if message.get("tool_calls"):
            content += json.dumps(message["tool_calls"])
        parts.append(f"<|im_start|>{message['role']}\n{content}<|im_end|>\n")
    parts.append("<|im_start|>assistant\n")
    return "".join(parts)


def _first_words(text: str, limit: int) -> str:
    for index, match in enumerate(re.finditer(r"\S+", text)):
        if index == limit - 1:
            return text[: match.end()]
    return text


def _split_tokens(text: str) -> list[str]:
    """Whitespace tokens, each with its trailing whitespace; ``"".join(tokens) == text``."""
    lead = text[: len(text) - len(text.lstrip())]
    tokens = re.findall(r"\S+\s*", text[len(lead) :])
    if lead:
        if tokens:
            tokens[0] = lead + tokens[0]
        else:
            tokens = [lead]
    return tokens


def _sse(payload: Mapping[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
