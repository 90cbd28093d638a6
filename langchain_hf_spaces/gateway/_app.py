"""The gateway's ASGI application: OpenAI's routes over a :class:`SpacesClient` (Starlette).

Every call goes through the client (``SpacesClient._route`` and the fallback walkers of
``_fallback``, then ``SpaceClient.achat`` / ``acomplete`` and their streams), so waking,
retries, ``fallback_to_base`` and whatever else the client was built with apply. The request and
response shapes are :mod:`._openai`'s, the chat decisions :mod:`._chat`'s; this module only reads
bodies, checks the API key, runs the calls and writes the answers, and stops a Space call when its
caller goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces import _fallback
from langchain_hf_spaces._answers import SpaceAnswer, StreamChunk
from langchain_hf_spaces._chat_templates import DEFAULT_CHAT_TEMPLATE, ChatTemplate, chat_template
from langchain_hf_spaces._space import SpaceClient
from langchain_hf_spaces._spaces import SpacesClient
from langchain_hf_spaces._structured import astructured_loop
from langchain_hf_spaces.errors import HFSpacesError
from langchain_hf_spaces.gateway._chat import (
    ChatPlan,
    Reply,
    ReplyAssembler,
    plan_chat,
    structured_reply,
)
from langchain_hf_spaces.gateway._openai import (
    ChatRequest,
    CompletionRequest,
    GatewayError,
    answer_extension,
    bad_request,
    chat_chunk,
    chat_completion_object,
    completion_chunk,
    completion_object,
    error_for,
    finish_reason,
    model_not_found,
    model_object,
    parse_chat_request,
    parse_completion_request,
    usage_object,
)

__all__ = ["Gateway", "TemplateSpec"]

logger = logging.getLogger("langchain_hf_spaces.gateway")

_T = TypeVar("_T")
TemplateSpec = str | ChatTemplate | Mapping[str, "str | ChatTemplate"]
DONE = b"data: [DONE]\n\n"


def _sse(data: Mapping[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


def _error_response(err: GatewayError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


class _Disconnected(Exception):
    """The caller went away before the answer was ready."""


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def _unless_disconnected(receive: Receive, work: Awaitable[_T]) -> _T:
    """``await work``, cancelled if the caller disconnects first (then :class:`_Disconnected`)."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_wait_disconnect(receive))
    try:
        done, _ = await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        raise
    finally:
        watch.cancel()
    if task not in done:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise _Disconnected
    return task.result()


class _EventStream(Response):
    """Server-Sent Events from ``first`` then ``rest``; a disconnect cancels the producer (and
    with it the Space call, whose stream is closed)."""

    media_type = "text/event-stream"

    def __init__(self, first: bytes, rest: AsyncIterator[bytes]) -> None:
        # No Content-Length: the body is as long as the answer (so not Response.__init__).
        self.status_code = 200
        self.background = None
        self.raw_headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ]
        self.first = first
        self.rest = rest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})

        async def pump() -> None:
            await send({"type": "http.response.body", "body": self.first, "more_body": True})
            async for data in self.rest:
                await send({"type": "http.response.body", "body": data, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        producer = asyncio.ensure_future(pump())
        watch = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            done, _ = await asyncio.wait({producer, watch}, return_when=asyncio.FIRST_COMPLETED)
            if producer not in done:
                logger.info("the client disconnected: the Space call is cancelled")
                producer.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await producer
        finally:
            watch.cancel()
            producer.cancel()
            aclose = getattr(self.rest, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()


class _Attempt:
    """The plan of the Space that answered (a fallback may answer from another tier)."""

    plan: ChatPlan | None = None


class Gateway:
    """The routes' logic; :meth:`app` is the ASGI application."""

    def __init__(
        self,
        client: SpacesClient,
        *,
        api_key: str | None,
        chat_template: TemplateSpec,
        max_body_bytes: int,
        close_client: bool,
    ) -> None:
        self.client = client
        self._api_key = api_key.encode() if api_key else None
        self._templates = chat_template
        self._default_template = self._template_of(chat_template)
        self.max_body_bytes = max_body_bytes
        self._close_client = close_client

    @staticmethod
    def _template_of(spec: Any) -> ChatTemplate:
        if isinstance(spec, Mapping):
            return chat_template(DEFAULT_CHAT_TEMPLATE)
        return chat_template(spec)

    def template(self, tier: str) -> ChatTemplate:
        """The chat template for text Spaces of ``tier`` (a mapping may name one per tier)."""
        if isinstance(self._templates, Mapping):
            spec = self._templates.get(tier)
            return self._default_template if spec is None else chat_template(spec)
        return self._default_template

    # ------------------------------------------------------------------ the application
    def app(self) -> Starlette:
        routes = [
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/models/{model:path}", self.model, methods=["GET"]),
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/completions", self.completions, methods=["POST"]),
        ]

        async def http_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, HTTPException)
            code = "not_found" if exc.status_code == 404 else None
            message = (
                f"Unknown request URL: {request.method} {request.url.path}."
                if exc.status_code in (404, 405)
                else str(exc.detail)
            )
            return _error_response(GatewayError(exc.status_code, message, code=code))

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            yield
            if self._close_client:
                await self.client.aclose()

        app = Starlette(
            routes=routes, exception_handlers={HTTPException: http_error}, lifespan=lifespan
        )
        return app

    def check_key(self, request: Request) -> GatewayError | None:
        """``None`` when no key is set or the request carries it (compared in constant time)."""
        if self._api_key is None:
            return None
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return GatewayError(
                401,
                "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' "
                f"(the key given to `hf-spaces serve --api-key` or {C.GATEWAY_API_KEY_ENV}).",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not hmac.compare_digest(given.strip().encode(), self._api_key):
            return GatewayError(
                401,
                "Incorrect API key provided.",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return None

    async def read_json(self, request: Request) -> Any:
        length = request.headers.get("content-length")
        too_big = GatewayError(
            413,
            f"The request body is larger than the gateway's limit of {self.max_body_bytes} bytes.",
            code="request_too_large",
        )
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            raise too_big
        body = bytearray()
        async for part in request.stream():
            body += part
            if len(body) > self.max_body_bytes:
                raise too_big
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            raise bad_request(
                "We could not parse the JSON body of your request: send a JSON object.", None
            ) from None

    def _check_model(self, model: str) -> None:
        if model not in self.client.tiers:
            raise model_not_found(model, self.client.tiers)

    async def _guarded(
        self, request: Request, handler: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            denied = self.check_key(request)
            if denied is not None:
                response: Response = _error_response(denied)
            else:
                try:
                    response = await handler(request)
                except GatewayError as err:
                    response = _error_response(err)
                except HFSpacesError as exc:
                    response = _error_response(error_for(exc))
                except _Disconnected:
                    logger.info("%s %s: the client disconnected", request.method, request.url.path)
                    status = 499
                    return Response(status_code=499)
                except Exception:
                    logger.exception("%s %s failed", request.method, request.url.path)
                    response = _error_response(
                        GatewayError(
                            500,
                            "The gateway failed unexpectedly: see its log.",
                            type="server_error",
                        )
                    )
            status = response.status_code
            return response
        finally:
            logger.info(
                "%s %s %d %.0f ms",
                request.method,
                request.url.path,
                status,
                (time.perf_counter() - started) * 1000,
            )

    # ------------------------------------------------------------------ models
    async def models(self, request: Request) -> Response:
        async def handler(request: Request) -> Response:
            settings = self.client.settings
            data = [
                model_object(name, cfg, default=name == settings.default_tier)
                for name, cfg in settings.tiers.items()
            ]
            return JSONResponse({"object": "list", "data": data})

        return await self._guarded(request, handler)

    async def model(self, request: Request) -> Response:
        async def handler(request: Request) -> Response:
            name = request.path_params["model"]
            self._check_model(name)
            settings = self.client.settings
            cfg = settings.tiers[name]
            return JSONResponse(model_object(name, cfg, default=name == settings.default_tier))

        return await self._guarded(request, handler)

    # ------------------------------------------------------------------ chat
    def _extra(self, request: Request) -> dict[str, Any]:
        token = request.headers.get("x-ip-token")
        return {"x_ip_token": token} if token else {}

    async def _chat_answer(
        self, space: SpaceClient, req: ChatRequest, attempt: _Attempt, extra: dict[str, Any]
    ) -> SpaceAnswer:
        await space.aresolve_protocol()
        plan = attempt.plan = plan_chat(space, req, self.template(space.tier))
        params = {**plan.params, **extra}
        if plan.native:
            return await space.achat(
                plan.messages, tools=plan.tools, tool_choice=plan.tool_choice, **params
            )
        if plan.structured is None:
            return await space.acomplete(plan.prompt, **params)
        last: list[SpaceAnswer] = []

        async def ask(instruction: str) -> str:
            answer = await space.acomplete(plan.render(instruction), **params)
            last.append(answer)
            return answer.text

        value = await astructured_loop(
            ask, plan.instruction, plan.structured, tier=space.tier, url=space.config.url
        )
        return structured_reply(last[-1], value)

    async def _chat_stream(
        self, space: SpaceClient, req: ChatRequest, attempt: _Attempt, extra: dict[str, Any]
    ) -> AsyncIterator[StreamChunk]:
        await space.aresolve_protocol()
        plan = attempt.plan = plan_chat(space, req, self.template(space.tier))
        if plan.structured is not None:  # validated first, then given whole
            answer = await self._chat_answer(space, req, attempt, extra)
            yield StreamChunk(answer.text, answer)
            return
        params = {**plan.params, **extra}
        source = (
            space.achat_stream_chunks(
                plan.messages, tools=plan.tools, tool_choice=plan.tool_choice, **params
            )
            if plan.native
            else space.astream_chunks(plan.prompt, **params)
        )
        try:
            async for chunk in source:
                yield chunk
        finally:
            await source.aclose()

    async def chat(self, request: Request) -> Response:
        return await self._guarded(request, self._chat)

    async def _chat(self, request: Request) -> Response:
        req = parse_chat_request(await self.read_json(request))
        self._check_model(req.model)
        route = self.client._route(req.model, req.ab_key)
        attempt = _Attempt()
        extra = self._extra(request)
        ident = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if not req.stream:
            answer = await _unless_disconnected(
                request.receive,
                _fallback.acall(
                    route, req.model, lambda s: self._chat_answer(s, req, attempt, extra)
                ),
            )
            assert attempt.plan is not None
            assembler = ReplyAssembler(attempt.plan)
            shown = assembler.feed(StreamChunk(answer.text, answer))
            reply = assembler.finish()
            content = shown + reply.content
            return JSONResponse(
                chat_completion_object(
                    completion_id=ident,
                    created=created,
                    model=req.model,
                    content=content if content or not reply.tool_calls else None,
                    tool_calls=reply.tool_calls,
                    reason=finish_reason(answer, tool_calls=bool(reply.tool_calls), cut=reply.cut),
                    answer=answer,
                )
            )
        chunks = _fallback.astream(
            route, req.model, lambda s: self._chat_stream(s, req, attempt, extra)
        )
        events = self._chat_events(chunks, attempt, req, ident, created)
        first = await _unless_disconnected(request.receive, _first(events))
        return _EventStream(first, events)

    def _chat_events(
        self,
        chunks: AsyncIterator[StreamChunk],
        attempt: _Attempt,
        req: ChatRequest,
        ident: str,
        created: int,
    ) -> AsyncIterator[bytes]:
        chunk = _chunker(chat_chunk, "delta", ident, created, req.model, req.include_usage)

        assembler: ReplyAssembler | None = None

        async def body() -> AsyncIterator[bytes]:
            nonlocal assembler
            async for piece in chunks:
                if assembler is None:
                    assert attempt.plan is not None
                    assembler = ReplyAssembler(attempt.plan)
                    yield chunk({"role": "assistant", "content": ""})
                text = assembler.feed(piece)
                if text:
                    yield chunk({"content": text})
                if assembler.done:
                    break

        def tail(started: bool) -> Iterator[bytes]:
            if assembler is None:  # pragma: no cover - every stream ends with an answer chunk
                raise GatewayError(
                    502, "The Space's stream ended without an answer.", type="server_error"
                )
            if not started:
                yield chunk({"role": "assistant", "content": ""})
            reply: Reply = assembler.finish()
            if reply.content:
                yield chunk({"content": reply.content})
            if reply.tool_calls:
                calls = [{"index": i, **call} for i, call in enumerate(reply.tool_calls)]
                yield chunk({"tool_calls": calls})
            reason = finish_reason(reply.answer, tool_calls=bool(reply.tool_calls), cut=reply.cut)
            yield from _last_chunks(chunk, {}, reason, reply.answer, req.include_usage)

        return _relay(chunks, body(), tail)

    # ------------------------------------------------------------------ completions
    def _completion_params(self, space: SpaceClient, req: CompletionRequest) -> dict[str, Any]:
        if req.native_params and space.protocol != "openai":
            name = next(iter(req.native_params))
            raise bad_request(
                f"{name} is not supported by tier {space.tier!r}: its Space speaks the "
                f"{space.protocol!r} protocol.",
                name,
            )
        return {**req.params, **req.native_params}

    async def _complete(
        self, space: SpaceClient, req: CompletionRequest, extra: dict[str, Any]
    ) -> SpaceAnswer:
        await space.aresolve_protocol()
        return await space.acomplete(req.prompt, **self._completion_params(space, req), **extra)

    async def _complete_stream(
        self, space: SpaceClient, req: CompletionRequest, extra: dict[str, Any]
    ) -> AsyncIterator[StreamChunk]:
        await space.aresolve_protocol()
        source = space.astream_chunks(req.prompt, **self._completion_params(space, req), **extra)
        try:
            async for chunk in source:
                yield chunk
        finally:
            await source.aclose()

    async def completions(self, request: Request) -> Response:
        return await self._guarded(request, self._completions)

    async def _completions(self, request: Request) -> Response:
        req = parse_completion_request(await self.read_json(request))
        self._check_model(req.model)
        route = self.client._route(req.model, req.ab_key)
        extra = self._extra(request)
        ident = f"cmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if not req.stream:
            answer = await _unless_disconnected(
                request.receive,
                _fallback.acall(route, req.model, lambda s: self._complete(s, req, extra)),
            )
            return JSONResponse(
                completion_object(
                    completion_id=ident,
                    created=created,
                    model=req.model,
                    text=answer.text,
                    reason=finish_reason(answer, tool_calls=False, cut=False),
                    answer=answer,
                )
            )
        chunks = _fallback.astream(route, req.model, lambda s: self._complete_stream(s, req, extra))
        events = self._completion_events(chunks, req, ident, created)
        first = await _unless_disconnected(request.receive, _first(events))
        return _EventStream(first, events)

    def _completion_events(
        self, chunks: AsyncIterator[StreamChunk], req: CompletionRequest, ident: str, created: int
    ) -> AsyncIterator[bytes]:
        chunk = _chunker(completion_chunk, "text", ident, created, req.model, req.include_usage)

        answer: SpaceAnswer | None = None

        async def body() -> AsyncIterator[bytes]:
            nonlocal answer
            async for piece in chunks:
                if piece.answer is not None:
                    answer = piece.answer
                if piece.text:
                    yield chunk(piece.text)

        def tail(started: bool) -> Iterator[bytes]:
            reason = finish_reason(answer, tool_calls=False, cut=False)
            yield from _last_chunks(chunk, "", reason, answer, req.include_usage)

        return _relay(chunks, body(), tail)


def _chunker(
    build: Callable[..., dict[str, Any]],
    field: str,
    ident: str,
    created: int,
    model: str,
    include_usage: bool,
) -> Callable[..., bytes]:
    """``chunk(content, **kw)``: one stream's chunk event, ``content`` as its ``field``
    (``delta`` of a chat chunk, ``text`` of a completion chunk)."""

    def chunk(content: Any, **kw: Any) -> bytes:
        return _sse(
            build(
                completion_id=ident,
                created=created,
                model=model,
                include_usage=include_usage,
                **{field: content},
                **kw,
            )
        )

    return chunk


async def _relay(
    chunks: AsyncIterator[StreamChunk],
    body: AsyncIterator[bytes],
    tail: Callable[[bool], Iterable[bytes]],
) -> AsyncIterator[bytes]:
    """A stream's events: ``body``'s (made from the Space's ``chunks``), then ``tail(started)``'s
    and ``[DONE]``. A failure before the first event is raised (an HTTP error); after it, the
    headers are sent: the error goes in the stream, as OpenAI's API does it."""
    started = False
    try:
        try:
            async for event in body:
                started = True
                yield event
        finally:
            await _aclose(body)
            await _aclose(chunks)
    except Exception as exc:
        if not started:
            raise
        yield _stream_error(exc)
        return
    for event in tail(started):
        yield event
    yield DONE


def _last_chunks(
    chunk: Callable[..., bytes],
    empty: Any,
    reason: str,
    answer: SpaceAnswer | None,
    include_usage: bool,
) -> Iterator[bytes]:
    """The chunk with the ``finish_reason`` (and where the answer came from), then the
    usage-only chunk when the client asked for it."""
    yield chunk(empty, reason=reason, extension=answer_extension(answer))
    if include_usage:
        yield chunk(None, usage=usage_object(answer))


def _stream_error(exc: Exception) -> bytes:
    """The ``error`` event ending a stream that failed after its first chunk."""
    if isinstance(exc, HFSpacesError):
        logger.warning("a stream failed midway: %s", exc)
        return _sse(error_for(exc).body())
    logger.error("a stream failed midway", exc_info=exc)
    err = GatewayError(500, "The gateway failed unexpectedly: see its log.", type="server_error")
    return _sse(err.body())


async def _first(events: AsyncIterator[bytes]) -> bytes:
    """The first event of a stream: the Space has started answering (or failed: an HTTP error)."""
    return await events.__anext__()


async def _aclose(stream: Any) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
