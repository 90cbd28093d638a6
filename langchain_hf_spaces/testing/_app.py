"""The ASGI application behind :class:`~langchain_hf_spaces.testing.LocalSpace`: the server.

It records each request, applies an injected fault, checks the token (as Hugging Face's proxy
does), answers 503 while the Space sleeps, and hands the request to the dialect that serves
its path (:mod:`langchain_hf_spaces.testing._dialects`: the guide's ``/api/generate``, TGI,
OpenAI-compatible chat); ``/`` is a small HTML page. Faults are applied on the raw ASGI
channel (:mod:`langchain_hf_spaces.testing._channel`) so that they are real on the socket
(truncated bodies, closed connections, cut streams).
"""

from __future__ import annotations

import asyncio
import hmac
import html
import json
import time
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send

from langchain_hf_spaces.testing._channel import Channel, ConnectionGone, read_body
from langchain_hf_spaces.testing._dialects import (
    DEFAULT_MAX_NEW_TOKENS_CAP,
    AnswerShape,
    Dialect,
    ErrorFamily,
    Exchange,
    GuideDialect,
    HTTPError,
    OpenAIDialect,
    TextModel,
    TGIDialect,
    error_response,
)
from langchain_hf_spaces.testing._faults import Fault, SleepForm
from langchain_hf_spaces.testing._records import RecordedRequest, SpaceState
from langchain_hf_spaces.testing._responders import Responder

__all__ = ["SpaceApp"]

OVERLOADED = "Model is overloaded"
"""TGI's message past ``max_concurrent_requests`` (429, ``error_type: "overloaded"``)."""
_NOT_GENERATION = frozenset({"/tokenize"})


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
        max_tokens_cap: int = DEFAULT_MAX_NEW_TOKENS_CAP,
        supports_tools: bool = True,
        supports_response_format: bool = True,
        max_concurrent: int | None = None,
    ) -> None:
        self.name = name
        self.max_concurrent = max_concurrent
        self._generating = 0
        self._token = token
        self.stream_delay = stream_delay
        self.state = state
        self._model = TextModel(responder, truncate=truncate)
        self._guide = GuideDialect(self._model, answer_shape=answer_shape)
        self._tgi = TGIDialect(
            self._model,
            model_id=model_id,
            max_new_tokens_cap=max_tokens_cap,
            max_concurrent_requests=max_concurrent or 128,
        )
        self._openai = OpenAIDialect(
            self._model,
            max_tokens_cap=max_tokens_cap,
            tools=supports_tools,
            response_format=supports_response_format,
        )
        # TGI first: its /generate is also a guide-style path.
        self._dialects: tuple[Dialect, ...] = (self._tgi, self._openai, self._guide)
        self._stopping: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"SpaceApp(name={self.name!r}, private={self._token is not None})"

    @property
    def responder(self) -> Responder:
        """What answers every generation request."""
        return self._model.responder

    @property
    def truncate(self) -> bool:
        """True when answers are cut to ``max_new_tokens`` words."""
        return self._model.truncate

    @property
    def answer_shape(self) -> AnswerShape:
        """How ``/api/generate`` answers."""
        return self._guide.answer_shape

    @property
    def model_id(self) -> str:
        """The ``model_id`` of ``GET /info``."""
        return self._tgi.model_id

    @property
    def private(self) -> bool:
        """True when requests need a bearer token."""
        return self._token is not None

    # ------------------------------------------------------------------ lifecycle hooks

    def bind_stop_event(self, event: asyncio.Event) -> None:
        """Called in the server's loop; setting the event ends slow faults and stream delays."""
        self._stopping = event

    def signal_stop(self) -> None:
        """Called in the server's loop when the server stops."""
        if self._stopping is not None:
            self._stopping.set()

    # ------------------------------------------------------------------ ASGI entry point

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1003})
            return
        body = await read_body(receive)
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
        streaming = any(d.streams(method, path, parsed) for d in self._dialects)
        record = RecordedRequest(
            method=method,
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=body,
            json=parsed,
            timestamp=time.monotonic(),
            fault=self.state.take_fault(path, streaming),
            stream=streaming,
        )
        self.state.record(record)
        channel = Channel(
            scope, receive, send, stopping=self._stopping, stream_delay=self.stream_delay
        )
        with self.state.track():
            try:
                await self._answer(record, channel)
            except ConnectionGone:
                return

    async def _answer(self, request: RecordedRequest, channel: Channel) -> None:
        """Fault, token check, sleep, route: in that order."""
        family = self._family(request.path, request.method)
        fault = request.fault
        if fault is not None and fault.kind not in ("slow", "stream_cut"):
            await self._send_fault(fault, channel, family)
            return
        if fault is not None and fault.kind == "slow":
            await channel.pause(fault.seconds)

        if self._token is not None and not self._authorized(request.headers):
            # Hugging Face's proxy answers this, before the request reaches the Space's server.
            await channel.respond(
                error_response("hf", 401, "Invalid credentials in Authorization header")
            )
            return

        with self.state.lock:
            remaining = self.state.sleep_until - time.monotonic()
            form = self.state.sleep_form
        if remaining > 0:
            await channel.respond(self._sleeping_response(form, remaining, 503))
            return

        cut = fault.after_events if fault is not None and fault.kind == "stream_cut" else None
        generation = request.method == "POST" and request.path not in _NOT_GENERATION
        if generation and self.max_concurrent is not None:
            if self._generating >= self.max_concurrent:
                # TGI's router past max_concurrent_requests: refused at once, never queued.
                await channel.respond(error_response("tgi", 429, OVERLOADED, "overloaded"))
                return
            self._generating += 1  # one event loop serves every request: no lock needed
        try:
            await self._route(Exchange(request, channel, cut), family)
        except HTTPError as exc:
            await channel.respond(error_response(family, exc.status, exc.message, exc.error_type))
        finally:
            if generation and self.max_concurrent is not None:
                self._generating -= 1

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        assert self._token is not None  # only called for private Spaces
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

    def _family(self, path: str, method: str = "GET") -> ErrorFamily:
        """The error shape on ``path``: that of the dialect owning it, else Hugging Face's
        (``POST /`` is TGI's compatibility route)."""
        if path == "/" and method == "POST":
            return self._tgi.family
        for dialect in self._dialects:
            if dialect.owns(path):
                return dialect.family
        return "hf"

    async def _route(self, exchange: Exchange, family: ErrorFamily) -> None:
        method, path = exchange.request.method, exchange.request.path
        if path == "/" and method != "POST":
            if method not in ("GET", "HEAD"):
                raise HTTPError(405, "Method Not Allowed")
            await exchange.respond(self._index())
            return
        for dialect in self._dialects:
            route = dialect.route(path)
            if route is not None:
                if method not in route.methods:
                    raise HTTPError(405, "Method Not Allowed")
                await route.handler(exchange)
                return
        await exchange.respond(error_response(family, 404, "Not Found"))

    # ------------------------------------------------------------------ pages of the Space

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
<code>GET /info</code>, <code>GET /health</code>, <code>POST /</code></li>
<li>OpenAI-compatible: <code>POST /v1/chat/completions</code>, <code>POST /v1/completions</code>,
<code>GET /v1/models</code></li>
</ul>
</body></html>
"""
        return HTMLResponse(page)

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

    # ------------------------------------------------------------------ faults

    async def _send_fault(self, fault: Fault, channel: Channel, family: ErrorFamily) -> None:
        kind = fault.kind
        response: Response
        if kind == "drop":
            await channel.close(rst=fault.rst)
        if kind == "reset_mid_body":
            full = json.dumps({"generated_text": "x" * 200}).encode()
            await channel.send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(full)).encode()),
                    ],
                }
            )
            await channel.send(
                {"type": "http.response.body", "body": full[: len(full) // 2], "more_body": True}
            )
            await channel.close(rst=fault.rst)
        if kind == "status":
            response = Response(
                fault.body,
                status_code=fault.status_code,
                headers=dict(fault.headers),
                media_type=fault.content_type,
            )
        elif kind == "rate_limited":
            response = error_response(family, 429, "Rate limit reached", "overloaded")
            response.headers.update(dict(fault.headers))
        elif kind == "server_error":
            response = error_response(
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
        await channel.respond(response)
