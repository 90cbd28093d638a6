"""Clients for Spaces: :class:`SpaceClient` (one Space) and :class:`SpacesClient` (every tier).

Both are sync and async: ``generate``/``agenerate`` and friends. The logic that does no I/O
(validation, request building, retries, waking, redirects, parsing) lives in ``_SpaceCore`` and
``_policy.exchange``; the sync and async methods differ only where they send or sleep.

.. code-block:: python

    from langchain_hf_spaces import SpacesClient

    with SpacesClient() as spaces:                   # SpacesSettings.load(): env + hf-spaces.toml
        print(spaces.generate("Write a haiku about tea"))           # default tier
        print(spaces.generate("Summarise our policy", tier="company",
                              context={"audience": "new hires"}))
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
import time
import warnings
import weakref
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, TypeVar

import httpx

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._inputs import render_prompt, validate_parameters, validate_prompt
from langchain_hf_spaces._policy import Failed, Flow, Outcome, Received, Sleep, exchange
from langchain_hf_spaces._structured import astructured_loop, structured_loop
from langchain_hf_spaces.config import SpaceConfig, SpacesSettings
from langchain_hf_spaces.errors import (
    HFSpacesError,
    SpaceAuthError,
    SpaceConfigError,
    SpaceConnectionError,
    SpaceInputError,
    SpaceNotFoundError,
    SpaceRateLimitError,
    SpaceResponseError,
    SpacesDisabledError,
    SpaceTimeoutError,
    SpaceUnavailableError,
)
from langchain_hf_spaces.protocols import (
    PROBES,
    PROTOCOLS,
    Generation,
    Protocol,
    ProtocolError,
    RequestSpec,
    SSEDecoder,
)
from langchain_hf_spaces.schema import SchemaLike, schema_to_model

_T = TypeVar("_T")
_UNAVAILABLE = (SpaceUnavailableError, SpaceTimeoutError, SpaceRateLimitError)
"""Failures after which ``fallback_to_base`` answers from the base tier."""

__all__ = [
    "ConnectionReport",
    "DuplicateVariationsWarning",
    "SpaceAnswer",
    "SpaceClient",
    "SpacesClient",
    "StreamChunk",
]

logger = logging.getLogger("langchain_hf_spaces")

_USER_AGENT = f"langchain-hf-spaces/{C.VERSION}"


@dataclass(frozen=True, slots=True)
class SpaceAnswer:
    """Generated text plus what is known about how it was made."""

    text: str
    tier: str
    url: str
    revision: str | None
    protocol: str
    latency: float
    """Seconds from the first byte sent to the last byte received, retries and waits included."""
    attempts: int
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    fallback_from: str | None = None
    """The tier originally asked for, when the answer came from a fallback tier."""
    tool_calls: list[dict[str, Any]] | None = None
    """Tool calls of a chat answer: ``{"id", "name", "arguments"}`` dicts."""

    @property
    def metadata(self) -> dict[str, Any]:
        """Everything but the text, as a plain dict (what frameworks put in their metadata)."""
        # Built by hand: dataclasses.asdict deep-copies and costs more than the rest of a call.
        data: dict[str, Any] = {
            "tier": self.tier,
            "url": self.url,
            "protocol": self.protocol,
            "latency": self.latency,
            "attempts": self.attempts,
        }
        for key in _OPTIONAL_METADATA:
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data

    def __str__(self) -> str:
        return self.text


_OPTIONAL_METADATA = (
    "revision",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "fallback_from",
    "tool_calls",
)


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """A piece of a streamed answer; the last chunk also carries the whole :class:`SpaceAnswer`."""

    text: str
    answer: SpaceAnswer | None = None


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    """The guide's "Test Connection" result for one tier."""

    tier: str
    url: str
    ok: bool
    reachable: bool
    auth_ok: bool
    format_ok: bool
    protocol: str
    revision: str | None = None
    latency: float | None = None
    error: str | None = None
    error_type: str | None = None
    hint: str | None = None
    sample: str | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: ``base  OK  https://...  123 ms`` or the error."""
        if self.ok:
            ms = f"{(self.latency or 0) * 1000:.0f} ms"
            return f"{self.tier:<12} OK    {self.url}  ({self.protocol}, {ms})"
        return f"{self.tier:<12} FAIL  {self.url}  {self.error_type}: {self.error}"


class _SpaceCore:
    """Everything about one Space that does no I/O."""

    __slots__ = (
        "_timeout",
        "_token",
        "config",
        "insecure",
        "protocol",
        "tier",
    )

    def __init__(self, config: SpaceConfig, tier: str) -> None:
        self.config = config
        self.tier = tier
        self.protocol: Protocol | None = None
        if config.protocol != "auto":
            self.protocol = self._make(config.protocol)
        # Work done once per Space rather than per request: the config is frozen.
        self.insecure = config.sends_token_insecurely
        self._timeout = httpx.Timeout(
            connect=config.connect_timeout,
            read=config.read_timeout,
            write=config.read_timeout,
            pool=None,
        )
        self._token = config.token_source()

    def _make(self, name: str) -> Protocol:
        try:
            return PROTOCOLS[name](self.config)
        except KeyError:
            raise SpaceConfigError(
                f"protocol {name!r} is not supported.", tier=self.tier, url=self.config.url
            ) from None

    def set_protocol(self, name: str) -> Protocol:
        self.protocol = self._make(name)
        logger.info("Space %s (tier %s): detected protocol %r", self.config.url, self.tier, name)
        return self.protocol

    @property
    def protocol_name(self) -> str:
        return self.protocol.name if self.protocol is not None else self.config.protocol

    def headers(self) -> dict[str, str]:
        headers = {"accept": "application/json", "user-agent": _USER_AGENT}
        token = self._token()
        if token:
            if self.insecure:
                raise SpaceConfigError(
                    "Refusing to send the token over plain http to a non-loopback host.",
                    tier=self.tier,
                    url=self.config.url,
                    hint="Use an https URL for this Space.",
                )
            headers["authorization"] = f"Bearer {token}"
            if self.protocol is None or self.protocol.name == "gradio":
                # Gradio apps on Spaces read the token here too (as gradio_client sends it).
                headers["x-hf-authorization"] = f"Bearer {token}"
        return headers

    def flow(self, spec: RequestSpec) -> Flow:
        headers = self.headers()
        if spec.stream:
            headers["accept"] = "text/event-stream"
        headers.update(spec.extra_headers)
        return exchange(
            self.config,
            tier=self.tier,
            method=spec.method,
            url=self.config.url + spec.path,
            body=spec.json,
            headers=headers,
            stream=spec.stream,
        )

    def validate(
        self, prompt: Any, context: Mapping[str, Any] | None, parameters: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        cfg = self.config
        prompt = validate_prompt(
            prompt, max_chars=cfg.max_prompt_chars, tier=self.tier, url=cfg.url
        )
        params = validate_parameters(parameters, tier=self.tier, url=cfg.url)
        return render_prompt(prompt, context, tier=self.tier, url=cfg.url), params

    def validate_messages(
        self, messages: Any, parameters: Mapping[str, Any]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        url = self.config.url
        if not isinstance(messages, (list, tuple)) or not messages:
            raise SpaceInputError("messages must be a non-empty list.", tier=self.tier, url=url)
        out = []
        for i, m in enumerate(messages):
            if not isinstance(m, Mapping) or not isinstance(m.get("role"), str):
                raise SpaceInputError(
                    f"messages[{i}] must be a dict with a 'role'.", tier=self.tier, url=url
                )
            out.append(dict(m))
        return out, validate_parameters(parameters, tier=self.tier, url=url)

    def error(self, exc: ProtocolError) -> HFSpacesError:
        """A protocol's complaint as the typed error users see."""
        kw: dict[str, Any] = {"tier": self.tier, "url": self.config.url}
        if exc.kind == "input":
            return SpaceInputError(exc.message, **kw)
        if exc.kind == "overloaded":
            return SpaceRateLimitError(exc.message, hint="The Space is busy; retry later.", **kw)
        if exc.kind == "app":
            return SpaceResponseError(
                exc.message,
                excerpt=exc.excerpt,
                hint="The Space's app failed on this request; check the Space's logs.",
                **kw,
            )
        return SpaceResponseError(exc.message, excerpt=exc.excerpt, **kw)

    def call(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Run a protocol function, turning its ProtocolError into the typed error."""
        try:
            return fn(*args, **kwargs)
        except ProtocolError as exc:
            raise self.error(exc) from None

    def cut(self, chunks: int, reason: str) -> SpaceConnectionError:
        return SpaceConnectionError(
            f"The answer stream was cut after {chunks} chunk(s) ({reason}); the text received "
            "so far was passed on, but the answer is incomplete.",
            tier=self.tier,
            url=self.config.url,
            hint="Retry the request; if it keeps happening, check the Space's logs.",
        )

    def answer(self, gen: Generation, attempts: int, started: float) -> SpaceAnswer:
        latency = time.perf_counter() - started
        return SpaceAnswer(
            text=gen.text,
            tier=self.tier,
            url=self.config.url,
            revision=self.config.revision,
            protocol=self.protocol_name,
            latency=latency,
            attempts=attempts,
            finish_reason=gen.finish_reason,
            prompt_tokens=gen.prompt_tokens,
            completion_tokens=gen.completion_tokens,
            tool_calls=[dict(c) for c in gen.tool_calls] if gen.tool_calls else None,
        )

    def timeout(self) -> httpx.Timeout:
        return self._timeout

    def report(self, answer: SpaceAnswer | None, exc: BaseException | None) -> ConnectionReport:
        base: dict[str, Any] = {
            "tier": self.tier,
            "url": self.config.url,
            "protocol": self.protocol_name,
            "revision": self.config.revision,
        }
        notes = []
        if self.config.protocol == "auto" and self.protocol is not None:
            notes.append(f"auto-detected protocol: {self.protocol.name}")
        if answer is not None:
            return ConnectionReport(
                ok=True,
                reachable=True,
                auth_ok=True,
                format_ok=True,
                latency=answer.latency,
                sample=answer.text[:80],
                notes=notes,
                **base,
            )
        assert isinstance(exc, HFSpacesError)
        reachable = not isinstance(exc, (SpaceConnectionError, SpaceTimeoutError))
        return ConnectionReport(
            ok=False,
            reachable=reachable,
            auth_ok=reachable and not isinstance(exc, SpaceAuthError),
            format_ok=False,
            error=exc.message,
            error_type=type(exc).__name__,
            hint=exc.hint,
            notes=notes,
            **base,
        )


def _limits() -> httpx.Limits:
    return httpx.Limits(
        max_connections=C.DEFAULT_MAX_CONNECTIONS,
        max_keepalive_connections=C.DEFAULT_MAX_KEEPALIVE_CONNECTIONS,
    )


def _failed(exc: httpx.HTTPError) -> Failed:
    """Translate a transport error (the one place httpx errors are mapped)."""
    if isinstance(exc, httpx.ConnectTimeout):
        return Failed("connect_timeout", type(exc).__name__)
    if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout)):
        return Failed("read_timeout", type(exc).__name__)
    if isinstance(exc, httpx.ConnectError):
        return Failed("connect", type(exc).__name__)
    return Failed("broken", type(exc).__name__)


def _read_capped_sync(response: httpx.Response, cap: int) -> Received:
    length = response.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > cap:
        return Received(response.status_code, response.headers, b"", oversize=True)
    buf = bytearray()
    for chunk in response.iter_bytes():
        buf += chunk
        if len(buf) > cap:
            return Received(response.status_code, response.headers, b"", oversize=True)
    return Received(response.status_code, response.headers, bytes(buf))


async def _read_capped_async(response: httpx.Response, cap: int) -> Received:
    length = response.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > cap:
        return Received(response.status_code, response.headers, b"", oversize=True)
    buf = bytearray()
    async for chunk in response.aiter_bytes():
        buf += chunk
        if len(buf) > cap:
            return Received(response.status_code, response.headers, b"", oversize=True)
    return Received(response.status_code, response.headers, bytes(buf))


class _HTTPPool:
    """Lazily created, shared httpx clients: one sync, one async per event loop."""

    def __init__(
        self,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._sync = http_client
        self._own_sync = http_client is None
        self._async = async_http_client
        self._own_async = async_http_client is None
        self._async_loop: asyncio.AbstractEventLoop | None = None
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def gate(self) -> asyncio.Semaphore:
        """Admission to the async pool, one per event loop.

        httpx's pool scans every waiting request each time a connection frees up, so a burst of
        thousands of coroutines slows to a crawl inside it; waiting here instead keeps its queue
        no longer than its connection limit.
        """
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates.setdefault(loop, asyncio.Semaphore(C.DEFAULT_MAX_CONNECTIONS))
        return gate

    def sync(self) -> httpx.Client:
        client = self._sync
        if client is None:
            with self._lock:
                if self._sync is None:
                    self._sync = httpx.Client(limits=_limits(), follow_redirects=False)
                client = self._sync
        return client

    def async_(self) -> httpx.AsyncClient:
        if not self._own_async:
            assert self._async is not None
            return self._async
        loop = asyncio.get_running_loop()
        client = self._async
        if client is None or self._async_loop is not loop:
            with self._lock:
                if self._async is None or self._async_loop is not loop:
                    # A client is bound to the loop that made it; a new loop needs a new one.
                    self._async = httpx.AsyncClient(limits=_limits(), follow_redirects=False)
                    self._async_loop = loop
                client = self._async
        return client

    def close(self) -> None:
        if self._own_sync and self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        if self._own_async and self._async is not None:
            await self._async.aclose()
            self._async = None
        self.close()


class SpaceClient:
    """A client for one Space (one tier).

    Args:
        config: the Space's settings.
        tier: the tier name reported in errors and metadata.
        http_client / async_http_client: bring your own pooled ``httpx`` clients; by default
            they are created on first use and closed by :meth:`close` / :meth:`aclose`.

    Safe to share across threads and asyncio tasks.
    """

    def __init__(
        self,
        config: SpaceConfig,
        *,
        tier: str = C.DEFAULT_TIER,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        _pool: _HTTPPool | None = None,
    ) -> None:
        self._core = _SpaceCore(config, tier)
        self._pool = _pool or _HTTPPool(http_client, async_http_client)
        self._info: dict[str, Any] | None = None
        self._info_known = False

    @property
    def config(self) -> SpaceConfig:
        return self._core.config

    @property
    def tier(self) -> str:
        return self._core.tier

    @property
    def protocol(self) -> str:
        """The wire protocol in use (for ``auto``, what was detected, once it was)."""
        return self._core.protocol_name

    def resolve_protocol(self) -> str:
        """The protocol in use; for ``auto``, the Space is probed first (once, then remembered).

        Integrations call this before choosing between native chat and a chat template.
        """
        if self._core.protocol is None:
            self._detect()
        return self._core.protocol_name

    async def aresolve_protocol(self) -> str:
        """Async :meth:`resolve_protocol`."""
        if self._core.protocol is None:
            await self._adetect()
        return self._core.protocol_name

    @property
    def is_chat_native(self) -> bool:
        """True when messages go to the Space as they are (the ``openai`` protocol)."""
        return self._core.protocol is not None and self._core.protocol.chat_native

    def __repr__(self) -> str:
        return f"SpaceClient(tier={self.tier!r}, url={self.config.url!r})"

    # ------------------------------------------------------------------ sync
    def generate(
        self, prompt: str, *, context: Mapping[str, Any] | None = None, **parameters: Any
    ) -> str:
        """Generate text for ``prompt``; ``context`` is the guide's data dict."""
        return self.complete(prompt, context=context, **parameters).text

    def complete(
        self, prompt: str, *, context: Mapping[str, Any] | None = None, **parameters: Any
    ) -> SpaceAnswer:
        """Like :meth:`generate`, returning the text with its metadata."""
        full_prompt, params = self._core.validate(prompt, context, parameters)
        return _last(self._run(_TextCall(full_prompt, params), stream=False))

    def _complete_hinted(
        self,
        prompt: str,
        context: Mapping[str, Any] | None,
        parameters: Mapping[str, Any],
        hints: Mapping[str, Any],
    ) -> SpaceAnswer:
        full_prompt, params = self._core.validate(prompt, context, parameters)
        return _last(self._run(_TextCall(full_prompt, params, hints), stream=False))

    def generate_structure(
        self,
        prompt: str,
        schema: SchemaLike,
        *,
        context: Mapping[str, Any] | None = None,
        max_retries: int = 2,
        **parameters: Any,
    ) -> Any:
        """The guide's ``generateStructure``: a pydantic object matching ``schema``.

        ``schema`` is the guide's schema dict, a JSON schema or a pydantic model class. When an
        answer does not parse or validate, the Space is asked again with the problem and its
        previous answer, up to ``max_retries`` times; then
        :class:`~langchain_hf_spaces.StructuredOutputError` carries every attempt.
        """
        model = schema_to_model(schema)
        self._core.validate(prompt, context, parameters)  # fail before sending anything

        def ask(text: str) -> str:
            return self.complete(text, context=context, **parameters).text

        return structured_loop(
            ask, prompt, model, max_retries=max_retries, tier=self.tier, url=self.config.url
        )

    def generate_variations(
        self,
        prompt: str,
        n: int,
        *,
        context: Mapping[str, Any] | None = None,
        unique: bool = True,
        max_concurrency: int | None = None,
        return_exceptions: bool = False,
        max_n: int = C.DEFAULT_MAX_VARIATIONS,
        **parameters: Any,
    ) -> list[Any]:
        """The guide's ``generateVariations``: ``n`` answers to one prompt, in request order.

        The ``n`` requests run concurrently (at most ``max_concurrency`` at a time), each with
        its own seed (``seed + i``) and sampling on. With ``unique`` (default) duplicates are
        asked again a bounded number of times, with a warning if ``n`` distinct answers could
        not be had. A failing request fails the call, unless ``return_exceptions``: then its
        typed error takes its place in the list.
        """
        plan = _VariationPlan(self, prompt, n, context, parameters, max_n, max_concurrency)
        workers = plan.concurrency
        results: list[Any] = [None] * n
        pending = list(range(n))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hf-spaces") as pool:
            for _ in range(C.VARIATION_REASK_ROUNDS + 1):
                futures = {i: pool.submit(plan.one, i) for i in pending}
                for i, future in futures.items():
                    try:
                        results[i] = future.result()
                    except HFSpacesError as exc:
                        if not return_exceptions:
                            for other in futures.values():
                                other.cancel()
                            raise
                        results[i] = exc
                pending = plan.duplicates(results) if unique else []
                if not pending:
                    break
        plan.warn_if_short(results, unique)
        return results

    def stream(
        self, prompt: str, *, context: Mapping[str, Any] | None = None, **parameters: Any
    ) -> Iterator[str]:
        """Yield the answer in text chunks as the Space produces them.

        Protocols without streaming yield the whole answer once. A stream cut mid-way raises
        :class:`~langchain_hf_spaces.SpaceConnectionError` after the chunks that arrived.
        """
        for chunk in self.stream_chunks(prompt, context=context, **parameters):
            if chunk.text:
                yield chunk.text

    def stream_chunks(
        self, prompt: str, *, context: Mapping[str, Any] | None = None, **parameters: Any
    ) -> Iterator[StreamChunk]:
        """Like :meth:`stream`, with the final :class:`SpaceAnswer` on the last chunk."""
        full_prompt, params = self._core.validate(prompt, context, parameters)
        for item in self._run(_TextCall(full_prompt, params), stream=True):
            yield StreamChunk(item, None) if isinstance(item, str) else StreamChunk("", item)

    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> SpaceAnswer:
        """Send OpenAI-format ``messages`` (and tools) to a chat-native (``openai``) Space."""
        msgs, params = self._core.validate_messages(messages, parameters)
        call = _ChatCall(msgs, params, tools, tool_choice)
        return _last(self._run(call, stream=False))

    def chat_stream_chunks(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> Iterator[StreamChunk]:
        """Stream a :meth:`chat` answer; tool calls arrive on the last chunk's answer."""
        msgs, params = self._core.validate_messages(messages, parameters)
        for item in self._run(_ChatCall(msgs, params, tools, tool_choice), stream=True):
            yield StreamChunk(item, None) if isinstance(item, str) else StreamChunk("", item)

    def _protocol(self) -> Protocol:
        core = self._core
        proto = core.protocol
        if proto is None:
            proto = self._detect()
        setup = proto.setup_request()
        if setup is not None:
            outcome = self._drive(core.flow(setup))
            core.call(proto.setup, outcome.received.body)
        return proto

    def _detect(self) -> Protocol:
        core = self._core
        for name, spec, matches in PROBES:
            try:
                outcome = self._drive(core.flow(spec))
            except (SpaceNotFoundError, SpaceResponseError):
                continue
            if matches(outcome.received.body):
                return core.set_protocol(name)
        return core.set_protocol("generate")

    def _run(self, call: _Call, *, stream: bool) -> Iterator[str | SpaceAnswer]:
        core = self._core
        proto = self._protocol()
        spec = core.call(call.build, proto, stream=stream and proto.supports_streaming)
        started = time.perf_counter()
        attempts = 0
        while True:
            outcome = self._drive(core.flow(spec))
            attempts += outcome.attempts
            if spec.stream:
                assert outcome.response is not None
                gen = yield from self._consume(outcome.response, proto, call.prompt)
                break
            nxt = core.call(call.parse, proto, outcome.received.body)
            if isinstance(nxt, Generation):
                gen = nxt
                if stream and gen.text:
                    yield gen.text
                break
            spec = nxt
        yield core.answer(gen, attempts, started)

    def _consume(
        self, response: httpx.Response, proto: Protocol, prompt: str
    ) -> Generator[str, None, Generation]:
        core = self._core
        parser = core.call(proto.stream_parser, prompt=prompt)
        decoder = SSEDecoder()
        cap = core.config.max_response_bytes
        total = chunks = 0
        try:
            try:
                for data in response.iter_bytes():
                    total += len(data)
                    if total > cap:
                        raise core.cut(chunks, f"larger than max_response_bytes={cap}")
                    for event in decoder.feed(data):
                        delta = core.call(parser.feed, event)
                        if delta:
                            chunks += 1
                            yield delta
                        if parser.done:
                            return parser.result()
            except httpx.HTTPError as exc:
                raise core.cut(chunks, f"{type(exc).__name__}") from None
            for event in decoder.flush():
                delta = core.call(parser.feed, event)
                if delta:
                    chunks += 1
                    yield delta
            if not (parser.done or parser.complete_at_eof()):
                raise core.cut(chunks, "the stream ended before its final event")
            return parser.result()
        finally:
            response.close()

    def _drive(self, flow: Flow) -> Outcome:
        client = self._pool.sync()
        core = self._core
        timeout = core.timeout()
        cap = core.config.max_response_bytes
        result: Received | Failed | None = None
        try:
            action = next(flow)
            while True:
                if isinstance(action, Sleep):
                    time.sleep(action.seconds)
                    result = None
                else:
                    try:
                        request = client.build_request(
                            action.method,
                            action.url,
                            json=action.json,
                            headers=action.headers,
                            timeout=timeout,
                        )
                        response = client.send(request, stream=True)
                        if action.stream and 200 <= response.status_code < 300:
                            result = Received(response.status_code, response.headers, b"", response)
                        else:
                            try:
                                result = _read_capped_sync(response, cap)
                            finally:
                                response.close()
                    except httpx.HTTPError as exc:
                        result = _failed(exc)
                action = flow.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    def info(self) -> dict[str, Any] | None:
        """What the Space says about its model (TGI ``/info``; an OpenAI Space's first model).

        ``None`` when the protocol has no such description. Asked once and remembered.
        """
        if self._info_known:
            return self._info
        proto = self._protocol()
        spec = _info_request(proto)
        info = None
        if spec is not None:
            try:
                info = _info_from(proto, self._drive(self._core.flow(spec)).received.body)
            except (SpaceNotFoundError, SpaceResponseError):
                info = None
        self._info, self._info_known = info, True
        return info

    def test_connection(self, *, wake_timeout: float | None = None) -> ConnectionReport:
        """The guide's "Test Connection": a tiny generation, reported without raising."""
        client = self._probe_client(wake_timeout)
        try:
            answer = client.complete("Reply with OK.", max_new_tokens=8)
        except HFSpacesError as exc:
            return client._core.report(None, exc)
        return client._core.report(answer, None)

    def _probe_client(self, wake_timeout: float | None) -> SpaceClient:
        if wake_timeout is None:
            return self
        cfg = self.config.model_copy(update={"wake_timeout": wake_timeout})
        cfg._token_provider = self.config._token_provider
        probe = SpaceClient(cfg, tier=self.tier, _pool=self._pool)
        probe._core.protocol = self._core.protocol
        return probe

    def close(self) -> None:
        """Close the pooled sync connections this client created."""
        self._pool.close()

    def __enter__(self) -> SpaceClient:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ----------------------------------------------------------------- async
    async def agenerate(
        self, prompt: str, *, context: Mapping[str, Any] | None = None, **parameters: Any
    ) -> str:
        """Async :meth:`generate`."""
        return (await self.acomplete(prompt, context=context, **parameters)).text

    async def acomplete(
        self, prompt: str, *, context: Mapping[str, Any] | None = None, **parameters: Any
    ) -> SpaceAnswer:
        """Async :meth:`complete`."""
        full_prompt, params = self._core.validate(prompt, context, parameters)
        return await _alast(self._arun(_TextCall(full_prompt, params), stream=False))

    async def _acomplete_hinted(
        self,
        prompt: str,
        context: Mapping[str, Any] | None,
        parameters: Mapping[str, Any],
        hints: Mapping[str, Any],
    ) -> SpaceAnswer:
        full_prompt, params = self._core.validate(prompt, context, parameters)
        return await _alast(self._arun(_TextCall(full_prompt, params, hints), stream=False))

    async def agenerate_structure(
        self,
        prompt: str,
        schema: SchemaLike,
        *,
        context: Mapping[str, Any] | None = None,
        max_retries: int = 2,
        **parameters: Any,
    ) -> Any:
        """Async :meth:`generate_structure`."""
        model = schema_to_model(schema)
        self._core.validate(prompt, context, parameters)

        async def ask(text: str) -> str:
            return (await self.acomplete(text, context=context, **parameters)).text

        return await astructured_loop(
            ask, prompt, model, max_retries=max_retries, tier=self.tier, url=self.config.url
        )

    async def agenerate_variations(
        self,
        prompt: str,
        n: int,
        *,
        context: Mapping[str, Any] | None = None,
        unique: bool = True,
        max_concurrency: int | None = None,
        return_exceptions: bool = False,
        max_n: int = C.DEFAULT_MAX_VARIATIONS,
        **parameters: Any,
    ) -> list[Any]:
        """Async :meth:`generate_variations`."""
        plan = _VariationPlan(self, prompt, n, context, parameters, max_n, max_concurrency)
        gate = asyncio.Semaphore(plan.concurrency)

        async def one(i: int) -> Any:
            async with gate:
                return await plan.aone(i)

        results: list[Any] = [None] * n
        pending = list(range(n))
        for _ in range(C.VARIATION_REASK_ROUNDS + 1):
            outcomes = await asyncio.gather(
                *(one(i) for i in pending), return_exceptions=return_exceptions
            )
            for i, outcome in zip(pending, outcomes, strict=True):
                if isinstance(outcome, BaseException) and not isinstance(outcome, HFSpacesError):
                    raise outcome
                results[i] = outcome
            pending = plan.duplicates(results) if unique else []
            if not pending:
                break
        plan.warn_if_short(results, unique)
        return results

    async def astream(
        self, prompt: str, *, context: Mapping[str, Any] | None = None, **parameters: Any
    ) -> AsyncIterator[str]:
        """Async :meth:`stream`."""
        async for chunk in self.astream_chunks(prompt, context=context, **parameters):
            if chunk.text:
                yield chunk.text

    async def astream_chunks(
        self, prompt: str, *, context: Mapping[str, Any] | None = None, **parameters: Any
    ) -> AsyncIterator[StreamChunk]:
        """Async :meth:`stream_chunks`."""
        full_prompt, params = self._core.validate(prompt, context, parameters)
        async for item in self._arun(_TextCall(full_prompt, params), stream=True):
            yield StreamChunk(item, None) if isinstance(item, str) else StreamChunk("", item)

    async def achat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> SpaceAnswer:
        """Async :meth:`chat`."""
        msgs, params = self._core.validate_messages(messages, parameters)
        call = _ChatCall(msgs, params, tools, tool_choice)
        return await _alast(self._arun(call, stream=False))

    async def achat_stream_chunks(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> AsyncIterator[StreamChunk]:
        """Async :meth:`chat_stream_chunks`."""
        msgs, params = self._core.validate_messages(messages, parameters)
        async for item in self._arun(_ChatCall(msgs, params, tools, tool_choice), stream=True):
            yield StreamChunk(item, None) if isinstance(item, str) else StreamChunk("", item)

    async def _aprotocol(self) -> Protocol:
        core = self._core
        proto = core.protocol
        if proto is None:
            proto = await self._adetect()
        setup = proto.setup_request()
        if setup is not None:
            outcome = await self._adrive(core.flow(setup))
            core.call(proto.setup, outcome.received.body)
        return proto

    async def _adetect(self) -> Protocol:
        core = self._core
        for name, spec, matches in PROBES:
            try:
                outcome = await self._adrive(core.flow(spec))
            except (SpaceNotFoundError, SpaceResponseError):
                continue
            if matches(outcome.received.body):
                return core.set_protocol(name)
        return core.set_protocol("generate")

    async def _arun(self, call: _Call, *, stream: bool) -> AsyncIterator[str | SpaceAnswer]:
        core = self._core
        proto = await self._aprotocol()
        spec = core.call(call.build, proto, stream=stream and proto.supports_streaming)
        started = time.perf_counter()
        attempts = 0
        while True:
            outcome = await self._adrive(core.flow(spec))
            attempts += outcome.attempts
            if spec.stream:
                assert outcome.response is not None
                box: list[Generation] = []
                async for delta in self._aconsume(outcome.received, proto, call.prompt, box):
                    yield delta
                gen = box[0]
                break
            nxt = core.call(call.parse, proto, outcome.received.body)
            if isinstance(nxt, Generation):
                gen = nxt
                if stream and gen.text:
                    yield gen.text
                break
            spec = nxt
        yield core.answer(gen, attempts, started)

    async def _aconsume(
        self, received: Received, proto: Protocol, prompt: str, box: list[Generation]
    ) -> AsyncIterator[str]:
        response: httpx.Response = received.response
        core = self._core
        parser = core.call(proto.stream_parser, prompt=prompt)
        decoder = SSEDecoder()
        cap = core.config.max_response_bytes
        total = chunks = 0
        try:
            try:
                async for data in response.aiter_bytes():
                    total += len(data)
                    if total > cap:
                        raise core.cut(chunks, f"larger than max_response_bytes={cap}")
                    for event in decoder.feed(data):
                        delta = core.call(parser.feed, event)
                        if delta:
                            chunks += 1
                            yield delta
                        if parser.done:
                            box.append(parser.result())
                            return
            except httpx.HTTPError as exc:
                raise core.cut(chunks, f"{type(exc).__name__}") from None
            for event in decoder.flush():
                delta = core.call(parser.feed, event)
                if delta:
                    chunks += 1
                    yield delta
            if not (parser.done or parser.complete_at_eof()):
                raise core.cut(chunks, "the stream ended before its final event")
            box.append(parser.result())
        finally:
            try:
                await response.aclose()
            finally:
                if received.release is not None:
                    received.release()

    async def _adrive(self, flow: Flow) -> Outcome:
        client = self._pool.async_()
        gate = self._pool.gate()
        core = self._core
        timeout = core.timeout()
        cap = core.config.max_response_bytes
        result: Received | Failed | None = None
        try:
            action = next(flow)
            while True:
                if isinstance(action, Sleep):
                    await asyncio.sleep(action.seconds)
                    result = None
                else:
                    await gate.acquire()
                    held = True
                    try:
                        request = client.build_request(
                            action.method,
                            action.url,
                            json=action.json,
                            headers=action.headers,
                            timeout=timeout,
                        )
                        response = await client.send(request, stream=True)
                        if action.stream and 200 <= response.status_code < 300:
                            # The stream stays open: its reader gives the place back.
                            result = Received(response.status_code, response.headers, b"", response)
                            result.release = gate.release
                            held = False
                        else:
                            try:
                                result = await _read_capped_async(response, cap)
                            finally:
                                await response.aclose()
                    except httpx.HTTPError as exc:
                        result = _failed(exc)
                    finally:
                        if held:
                            gate.release()
                action = flow.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    async def ainfo(self) -> dict[str, Any] | None:
        """Async :meth:`info`."""
        if self._info_known:
            return self._info
        proto = await self._aprotocol()
        spec = _info_request(proto)
        info = None
        if spec is not None:
            try:
                outcome = await self._adrive(self._core.flow(spec))
                info = _info_from(proto, outcome.received.body)
            except (SpaceNotFoundError, SpaceResponseError):
                info = None
        self._info, self._info_known = info, True
        return info

    async def atest_connection(self, *, wake_timeout: float | None = None) -> ConnectionReport:
        """Async :meth:`test_connection`."""
        client = self._probe_client(wake_timeout)
        try:
            answer = await client.acomplete("Reply with OK.", max_new_tokens=8)
        except HFSpacesError as exc:
            return client._core.report(None, exc)
        return client._core.report(answer, None)

    async def aclose(self) -> None:
        """Close every pooled connection this client created."""
        await self._pool.aclose()

    async def __aenter__(self) -> SpaceClient:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class _Call:
    """What to ask: builds the request for a protocol and parses its answer."""

    prompt: str = ""

    def build(self, proto: Protocol, *, stream: bool) -> RequestSpec:
        raise NotImplementedError

    def parse(self, proto: Protocol, body: bytes) -> Generation | RequestSpec:
        return proto.parse_response(body, prompt=self.prompt)


class _TextCall(_Call):
    __slots__ = ("hints", "params", "prompt")

    def __init__(
        self, prompt: str, params: dict[str, Any], hints: Mapping[str, Any] | None = None
    ) -> None:
        self.prompt = prompt
        self.params = params
        self.hints = hints

    def build(self, proto: Protocol, *, stream: bool) -> RequestSpec:
        params = self.params
        if self.hints:
            # Hints (a variation's seed, sampling on) go only where the Space can take them.
            extra = {k: v for k, v in self.hints.items() if k not in params and proto.accepts(k)}
            params = {**params, **extra}
        return proto.build_request(self.prompt, params, stream=stream)


class _ChatCall(_Call):
    __slots__ = ("messages", "params", "tool_choice", "tools")

    def __init__(
        self,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        tools: Sequence[Mapping[str, Any]] | None,
        tool_choice: str | Mapping[str, Any] | None,
    ) -> None:
        self.messages = messages
        self.params = params
        self.tools = tools
        self.tool_choice = tool_choice

    def build(self, proto: Protocol, *, stream: bool) -> RequestSpec:
        if not proto.chat_native:
            raise ProtocolError(
                f"protocol {proto.name!r} is not chat-native: render the messages with a chat "
                "template and call complete(), or use ChatHuggingFaceSpace, which does.",
                kind="input",
            )
        return proto.build_chat_request(
            self.messages,
            self.params,
            tools=self.tools,
            tool_choice=self.tool_choice,
            stream=stream,
        )

    def parse(self, proto: Protocol, body: bytes) -> Generation:
        return proto.parse_chat_response(body)


class _VariationPlan:
    """What the sync and async variation paths share: checks, seeds, duplicates."""

    def __init__(
        self,
        client: SpaceClient,
        prompt: str,
        n: Any,
        context: Mapping[str, Any] | None,
        parameters: Mapping[str, Any],
        max_n: int,
        max_concurrency: int | None,
    ) -> None:
        kw: dict[str, Any] = {"tier": client.tier, "url": client.config.url}
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise SpaceInputError(f"n={n!r} is invalid: ask for at least 1 variation.", **kw)
        if n > max_n:
            raise SpaceInputError(
                f"n={n} is more than max_n={max_n} variations.",
                hint="Ask for fewer, or pass a larger max_n.",
                **kw,
            )
        if max_concurrency is not None and (
            not isinstance(max_concurrency, int) or max_concurrency < 1
        ):
            raise SpaceInputError(f"max_concurrency={max_concurrency!r} must be >= 1.", **kw)
        params = dict(parameters)
        seed = params.pop("seed", None)
        client._core.validate(prompt, context, {**params, "seed": seed})
        self.client = client
        self.prompt = prompt
        self.n = n
        self.context = context
        self.params = params
        self.base_seed: int = seed if seed is not None else secrets.randbelow(2**31)
        self.next_seed = self.base_seed + n
        self.seeds = [self.base_seed + i for i in range(n)]
        self.concurrency = min(n, max_concurrency or n)

    def hints(self, i: int) -> dict[str, Any]:
        return {"seed": self.seeds[i], "do_sample": True}

    def one(self, i: int) -> str:
        return self.client._complete_hinted(
            self.prompt, self.context, self.params, self.hints(i)
        ).text

    async def aone(self, i: int) -> str:
        answer = await self.client._acomplete_hinted(
            self.prompt, self.context, self.params, self.hints(i)
        )
        return answer.text

    def duplicates(self, results: list[Any]) -> list[int]:
        """Positions repeating an earlier answer; they get fresh seeds for another try."""
        seen: set[str] = set()
        again = []
        for i, text in enumerate(results):
            if not isinstance(text, str):
                continue
            key = " ".join(text.split()).casefold()
            if key in seen:
                again.append(i)
                self.seeds[i] = self.next_seed
                self.next_seed += 1
            seen.add(key)
        return again

    def warn_if_short(self, results: list[Any], unique: bool) -> None:
        texts = [" ".join(t.split()).casefold() for t in results if isinstance(t, str)]
        if unique and len(set(texts)) < len(texts):
            warnings.warn(
                f"Space {self.client.config.url} (tier {self.client.tier!r}) gave "
                f"{len(set(texts))} distinct answers of {self.n} asked for, after "
                f"{C.VARIATION_REASK_ROUNDS} re-asks; duplicates are included.",
                DuplicateVariationsWarning,
                stacklevel=3,
            )


class DuplicateVariationsWarning(UserWarning):
    """``generate_variations`` could not get ``n`` distinct answers."""


def _info_request(proto: Protocol) -> RequestSpec | None:
    if proto.name == "tgi":
        return RequestSpec("GET", "/info")
    if proto.name == "openai":
        return RequestSpec("GET", "/v1/models")
    return None


def _info_from(proto: Protocol, body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if proto.name == "openai":
        models = data.get("data") if isinstance(data, dict) else None
        data = models[0] if isinstance(models, list) and models else None
    return data if isinstance(data, dict) else None


def _last(items: Iterator[str | SpaceAnswer]) -> SpaceAnswer:
    last: str | SpaceAnswer | None = None
    for last in items:  # noqa: B007
        pass
    assert isinstance(last, SpaceAnswer)
    return last


async def _alast(items: AsyncIterator[str | SpaceAnswer]) -> SpaceAnswer:
    last: str | SpaceAnswer | None = None
    async for last in items:  # noqa: B007
        pass
    assert isinstance(last, SpaceAnswer)
    return last


class SpacesClient:
    """All configured tiers behind one object, sharing one connection pool.

    Args:
        settings: the tiers; default :meth:`SpacesSettings.load` (env + ``hf-spaces.toml``).
        fallback_to_base: when a call names a tier that is not configured, or that tier is
            unavailable (asleep past ``wake_timeout``, failing, rate limited, timing out), answer
            from the ``base`` tier instead; the answer's ``fallback_from`` names the tier asked
            for. Off by default: then such calls raise.

    .. code-block:: python

        spaces = SpacesClient(settings)
        spaces.generate("Your prompt")                      # default tier
        spaces.generate("Your prompt", tier="company")
        await spaces.agenerate("Your prompt", context={"industry": "healthcare"})
        for report in spaces.test_connection():
            print(report.summary())
    """

    def __init__(
        self,
        settings: SpacesSettings | None = None,
        *,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        fallback_to_base: bool = False,
    ) -> None:
        self.settings = SpacesSettings.load() if settings is None else settings
        self.fallback_to_base = fallback_to_base
        self._pool = _HTTPPool(http_client, async_http_client)
        self._spaces: dict[str, SpaceClient] = {
            name: SpaceClient(cfg, tier=name, _pool=self._pool)
            for name, cfg in self.settings.tiers.items()
        }

    def __repr__(self) -> str:
        return (
            f"SpacesClient(enabled={self.settings.enabled}, default_tier="
            f"{self.settings.default_tier!r}, tiers={sorted(self._spaces)})"
        )

    @property
    def tiers(self) -> list[str]:
        """Configured tier names."""
        return list(self._spaces)

    def space(self, tier: str | None = None) -> SpaceClient:
        """The :class:`SpaceClient` of ``tier`` (default tier when ``None``)."""
        if not self.settings.enabled:
            raise SpacesDisabledError(
                "Hugging Face Spaces are disabled (enabled = false).", tier=tier
            )
        name = self.settings.default_tier if tier is None else tier
        client = self._spaces.get(name)
        if client is None:
            self.settings.space(name)  # raises the SpaceConfigError naming the tier
            raise AssertionError("unreachable")  # pragma: no cover
        return client

    def generate(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> str:
        """The guide's ``generate(prompt, tier, context)``."""
        return self.complete(prompt, tier, context, **parameters).text

    def complete(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> SpaceAnswer:
        """Like :meth:`generate`, returning the text with its metadata."""
        name = self.settings.default_tier if tier is None else tier
        if not self._may_fall_back(name):
            return self.space(name).complete(prompt, context=context, **parameters)
        if name not in self._spaces:
            base = self._fall_back(name, None)
        else:
            try:
                return self.space(name).complete(prompt, context=context, **parameters)
            except _UNAVAILABLE as exc:
                base = self._fall_back(name, exc)
        return replace(base.complete(prompt, context=context, **parameters), fallback_from=name)

    def _may_fall_back(self, tier: str) -> bool:
        return (
            self.fallback_to_base
            and self.settings.enabled
            and tier != C.DEFAULT_TIER
            and C.DEFAULT_TIER in self._spaces
        )

    def _fall_back(self, asked: str, exc: HFSpacesError | None) -> SpaceClient:
        reason = f"it failed: {exc.message}" if exc is not None else "it is not configured"
        logger.warning("tier %r: answering from the base tier because %s", asked, reason)
        return self._spaces[C.DEFAULT_TIER]

    async def agenerate(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> str:
        """Async :meth:`generate`."""
        return (await self.acomplete(prompt, tier, context, **parameters)).text

    async def acomplete(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> SpaceAnswer:
        """Async :meth:`complete`."""
        name = self.settings.default_tier if tier is None else tier
        if not self._may_fall_back(name):
            return await self.space(name).acomplete(prompt, context=context, **parameters)
        if name not in self._spaces:
            base = self._fall_back(name, None)
        else:
            try:
                return await self.space(name).acomplete(prompt, context=context, **parameters)
            except _UNAVAILABLE as exc:
                base = self._fall_back(name, exc)
        answer = await base.acomplete(prompt, context=context, **parameters)
        return replace(answer, fallback_from=name)

    def stream(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> Iterator[str]:
        """Stream the answer of ``tier`` in text chunks (see :meth:`SpaceClient.stream`)."""
        return self.space(tier).stream(prompt, context=context, **parameters)

    def astream(
        self,
        prompt: str,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> AsyncIterator[str]:
        """Async :meth:`stream`."""
        return self.space(tier).astream(prompt, context=context, **parameters)

    def generate_structure(
        self,
        prompt: str,
        schema: SchemaLike,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """The guide's ``generateStructure(prompt, schema)``; see
        :meth:`SpaceClient.generate_structure`."""
        return self.space(tier).generate_structure(prompt, schema, context=context, **kwargs)

    async def agenerate_structure(
        self,
        prompt: str,
        schema: SchemaLike,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Async :meth:`generate_structure`."""
        return await self.space(tier).agenerate_structure(prompt, schema, context=context, **kwargs)

    def generate_variations(
        self,
        prompt: str,
        n: int,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Any]:
        """The guide's ``generateVariations(prompt, n, tier)``; see
        :meth:`SpaceClient.generate_variations`."""
        return self.space(tier).generate_variations(prompt, n, context=context, **kwargs)

    async def agenerate_variations(
        self,
        prompt: str,
        n: int,
        tier: str | None = None,
        context: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Any]:
        """Async :meth:`generate_variations`."""
        return await self.space(tier).agenerate_variations(prompt, n, context=context, **kwargs)

    def test_connection(
        self, tier: str | None = None, *, wake_timeout: float | None = None
    ) -> list[ConnectionReport]:
        """Test Connection for ``tier``, or for every configured tier when ``None``."""
        names = [tier] if tier is not None else self.tiers
        return [self.space(n).test_connection(wake_timeout=wake_timeout) for n in names]

    async def atest_connection(
        self, tier: str | None = None, *, wake_timeout: float | None = None
    ) -> list[ConnectionReport]:
        """Async :meth:`test_connection`; tiers are tested concurrently."""
        names = [tier] if tier is not None else self.tiers
        return list(
            await asyncio.gather(
                *(self.space(n).atest_connection(wake_timeout=wake_timeout) for n in names)
            )
        )

    def close(self) -> None:
        self._pool.close()

    async def aclose(self) -> None:
        await self._pool.aclose()

    def __enter__(self) -> SpacesClient:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> SpacesClient:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
