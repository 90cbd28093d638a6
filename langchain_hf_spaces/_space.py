"""``SpaceClient``: one Space, sync and async (see ``client`` for the tour)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._answers import ConnectionReport, SpaceAnswer, StreamChunk
from langchain_hf_spaces._cache import ResponseCache
from langchain_hf_spaces._flow import (
    Call,
    CallFlow,
    ChatCall,
    SpaceCore,
    TextCall,
    call_flow,
    host_flow,
    info_flow,
    protocol_flow,
    runtime_flow,
)
from langchain_hf_spaces._hub import SpaceRuntime
from langchain_hf_spaces._observe import CallObserver
from langchain_hf_spaces._policy import WaitEvent
from langchain_hf_spaces._structured import astructured_loop, structured_loop
from langchain_hf_spaces._transport import Done, HTTPPool, adrive, aresult, drive, result
from langchain_hf_spaces._variations import VariationPlan
from langchain_hf_spaces._watch import Monitor
from langchain_hf_spaces.config import SpaceConfig
from langchain_hf_spaces.errors import (
    HFSpacesError,
    SpaceInputError,
    SpaceNotFoundError,
    SpaceResponseError,
)
from langchain_hf_spaces.protocols._base import RequestSpec
from langchain_hf_spaces.schema import SchemaLike, schema_to_model

if TYPE_CHECKING:
    import httpx  # annotations only: the transport imports it on first use

    from langchain_hf_spaces._batch import Batch

__all__ = ["OnWait", "SpaceClient"]

logger = logging.getLogger("langchain_hf_spaces")

_T = TypeVar("_T")
OnWait = Callable[[WaitEvent], None]


def _chunks(items: Iterator[str | Done[SpaceAnswer]]) -> Iterator[StreamChunk]:
    for item in items:
        yield StreamChunk(item) if isinstance(item, str) else StreamChunk("", item.value)


async def _achunks(
    items: AsyncIterator[str | Done[SpaceAnswer]],
) -> AsyncGenerator[StreamChunk, None]:
    async for item in items:
        yield StreamChunk(item) if isinstance(item, str) else StreamChunk("", item.value)


TOKENIZE_PATH = "/tokenize"


def _tokenize_flow(core: SpaceCore, text: str) -> CallFlow[int | None]:
    """TGI's ``POST /tokenize``: the token list of ``text``; ``None`` when the Space has no
    such route or answers something else."""
    try:
        outcome = yield from core.exchange(
            RequestSpec("POST", TOKENIZE_PATH, json={"inputs": text})
        )
    except (SpaceNotFoundError, SpaceResponseError):
        return None
    try:
        tokens = json.loads(outcome.received.body)
    except ValueError:
        return None
    return len(tokens) if isinstance(tokens, list) else None


class SpaceClient:
    """A client for one Space (one tier).

    Args:
        config: the Space's settings.
        tier: the tier name reported in errors and metadata.
        http_client / async_http_client: bring your own pooled ``httpx`` clients; by default
            they are created on first use and closed by :meth:`close` / :meth:`aclose`.
        on_wait: called with a :class:`~langchain_hf_spaces.WaitEvent` before every wait
            (a sleeping Space waking up, a rate limit, a retry's backoff), e.g. to show progress.
        profile / variant: labels reported in every answer's metadata: the settings profile
            and the tier's A/B variant this Space is (set by :class:`SpacesClient`).
        observers: what watches every generation call (``CallObserver``: stats, the request
            log, OpenTelemetry); ``None`` (default) is :func:`_observe.default_observers`, the
            request log; ``[]`` watches nothing.
        cache: a response cache (:class:`~langchain_hf_spaces.MemoryCache`,
            :class:`~langchain_hf_spaces.SQLiteCache`): asked before each call, it answers
            repeated deterministic calls without a request. Off by default.

    Safe to share across threads and asyncio tasks.
    """

    def __init__(
        self,
        config: SpaceConfig,
        *,
        tier: str = C.DEFAULT_TIER,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        on_wait: OnWait | None = None,
        profile: str | None = None,
        variant: str | None = None,
        observers: Sequence[CallObserver] | None = None,
        cache: ResponseCache | None = None,
        _pool: HTTPPool | None = None,
    ) -> None:
        self._core = SpaceCore(config, tier, profile=profile, variant=variant)
        self._pool = _pool or HTTPPool(http_client, async_http_client)
        self.on_wait = on_wait
        self._observers = observers
        self._monitor = Monitor.make(observers, cache, tier, config.url)
        self._info: dict[str, Any] | None = None
        self._info_known = False
        self._tokenize: bool | None = None
        """Whether the Space answers ``POST /tokenize`` (``None``: not asked yet)."""
        # Single flight: concurrent first calls of an `auto` Space wait for one probe.
        self._setup_lock = threading.Lock()
        self._async_setup: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    # Copies (deepcopy, pickle, cloudpickle): the settings, tier, on_wait and what was learnt
    # about the Space; connections and locks are made again, lazily, in the copy. A client of
    # yours passed as http_client is not copied: the copy opens its own connections.
    def __getstate__(self) -> dict[str, Any]:
        detected = self._core.protocol
        return {
            "config": self.config,
            "tier": self.tier,
            "on_wait": self.on_wait,
            "profile": self.profile,
            "variant": self.variant,
            "observers": self._observers,
            "cache": self.cache,
            "protocol": detected.name if detected is not None else None,
            "info": (self._info, self._info_known),
            "tokenize": self._tokenize,
        }

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["config"],
            tier=state["tier"],
            on_wait=state["on_wait"],
            profile=state.get("profile"),
            variant=state.get("variant"),
            observers=state.get("observers"),
            cache=state.get("cache"),
        )
        name = state.get("protocol")
        if name is not None and self._core.protocol is None:
            self._core.protocol = self._core._make(name)
        self._info, self._info_known = state.get("info", (None, False))
        self._tokenize = state.get("tokenize")

    @property
    def config(self) -> SpaceConfig:
        return self._core.config

    @property
    def tier(self) -> str:
        return self._core.tier

    @property
    def profile(self) -> str | None:
        """The settings profile this Space belongs to, if any."""
        return self._core.profile

    @property
    def variant(self) -> str | None:
        """The tier's A/B variant this Space is, if any."""
        return self._core.variant

    @property
    def cache(self) -> ResponseCache | None:
        """The response cache, if any."""
        return self._monitor.cache

    @property
    def observers(self) -> tuple[CallObserver, ...]:
        """What watches this client's calls."""
        return self._monitor.observers

    @property
    def protocol(self) -> str:
        """The wire protocol in use (for ``auto``, what was detected, once it was)."""
        return self._core.protocol_name

    @property
    def is_chat_native(self) -> bool:
        """True when messages go to the Space as they are (the ``openai`` protocol)."""
        return self._core.protocol is not None and self._core.protocol.chat_native

    @property
    def takes_messages(self) -> bool:
        """True when :meth:`chat` works without tools: a chat-native Space, or a Gradio chat app
        (a ChatInterface, or an endpoint with a Chatbot input) that applies its own template.

        Known once the protocol is resolved and set up (:meth:`resolve_protocol`)."""
        return self._core.protocol is not None and self._core.protocol.takes_messages

    def __repr__(self) -> str:
        return f"SpaceClient(tier={self.tier!r}, url={self.config.url!r})"

    def with_config(self, config: SpaceConfig, *, tier: str | None = None) -> SpaceClient:
        """A client for ``config`` that shares this one's connection pool, ``on_wait``,
        labels (profile, variant), observers and cache."""
        return SpaceClient(
            config,
            tier=self.tier if tier is None else tier,
            on_wait=self.on_wait,
            profile=self.profile,
            variant=self.variant,
            observers=self.observers,
            cache=self.cache,
            _pool=self._pool,
        )

    # The two drivers: everything below goes through one of them.
    def _run(self, flow: CallFlow[_T], on_wait: OnWait | None = None) -> _T:
        return result(drive(self._pool, self._core, flow, on_wait or self.on_wait))

    async def _arun(self, flow: CallFlow[_T], on_wait: OnWait | None = None) -> _T:
        return await aresult(adrive(self._pool, self._core, flow, on_wait or self.on_wait))

    def _setup_once(self, on_wait: OnWait | None = None) -> None:
        """Probe (``auto``) and set up the protocol before a call, once for concurrent callers:
        the first one sends the probe, the others wait for it and use what it found."""
        if not self._needs_setup():
            return
        with self._setup_lock:
            if self._needs_setup():
                self._run(protocol_flow(self._core), on_wait)

    async def _asetup_once(self, on_wait: OnWait | None = None) -> None:
        """Async :meth:`_setup_once`: one probe per event loop (an ``asyncio.Lock`` each)."""
        if not self._needs_setup():
            return
        loop = asyncio.get_running_loop()
        lock = self._async_setup.get(loop)
        if lock is None:
            lock = self._async_setup.setdefault(loop, asyncio.Lock())
        async with lock:
            if self._needs_setup():
                await self._arun(protocol_flow(self._core), on_wait)

    def _call(self, flow: CallFlow[_T]) -> _T:
        self._setup_once()
        return self._run(flow)

    async def _acall(self, flow: CallFlow[_T]) -> _T:
        await self._asetup_once()
        return await self._arun(flow)

    # Generation calls: through the monitor (observers, cache) when it has a part in them.
    def _answer(self, call: Call, *, use_cache: bool = True) -> SpaceAnswer:
        flow = call_flow(self._core, call, stream=False)
        watch = self._monitor.begin(
            self._core, call, stream=False, on_wait=self.on_wait, use_cache=use_cache
        )
        if watch is None:
            return self._call(flow)
        with watch:
            hit = watch.lookup()
            if hit is not None:
                return watch.done(hit)
            self._setup_once(watch.on_wait)
            answer = self._run(flow, watch.on_wait)
            watch.store(answer)
            return watch.done(answer)

    async def _aanswer(self, call: Call, *, use_cache: bool = True) -> SpaceAnswer:
        flow = call_flow(self._core, call, stream=False)
        watch = self._monitor.begin(
            self._core, call, stream=False, on_wait=self.on_wait, use_cache=use_cache
        )
        if watch is None:
            return await self._acall(flow)
        with watch:
            hit = await watch.alookup()
            if hit is not None:
                return watch.done(hit)
            await self._asetup_once(watch.on_wait)
            answer = await self._arun(flow, watch.on_wait)
            await watch.astore(answer)
            return watch.done(answer)

    def _stream_items(self, call: Call) -> Iterator[StreamChunk]:
        flow = call_flow(self._core, call, stream=True)
        watch = self._monitor.begin(self._core, call, stream=True, on_wait=self.on_wait)
        if watch is None:
            self._setup_once()
            yield from _chunks(drive(self._pool, self._core, flow, self.on_wait))
            return
        with watch:
            hit = watch.lookup()
            if hit is not None:
                for chunk in watch.replay(hit):
                    yield watch.passed(chunk)
                return
            self._setup_once(watch.on_wait)
            for chunk in _chunks(drive(self._pool, self._core, flow, watch.on_wait)):
                if chunk.answer is not None:
                    watch.store(chunk.answer)
                yield watch.passed(chunk)

    async def _astream_items(self, call: Call) -> AsyncGenerator[StreamChunk, None]:
        flow = call_flow(self._core, call, stream=True)
        watch = self._monitor.begin(self._core, call, stream=True, on_wait=self.on_wait)
        if watch is None:
            await self._asetup_once()
            items = _achunks(adrive(self._pool, self._core, flow, self.on_wait))
            try:
                async for item in items:
                    yield item
            finally:
                await items.aclose()
            return
        with watch:
            hit = await watch.alookup()
            if hit is not None:
                for chunk in watch.replay(hit):
                    yield watch.passed(chunk)
                return
            await self._asetup_once(watch.on_wait)
            items = _achunks(adrive(self._pool, self._core, flow, watch.on_wait))
            try:
                async for chunk in items:
                    if chunk.answer is not None:
                        await watch.astore(chunk.answer)
                    yield watch.passed(chunk)
            finally:
                await items.aclose()

    def _text(
        self,
        prompt: Any,
        context: Mapping[str, Any] | None,
        parameters: Mapping[str, Any],
        hints: Mapping[str, Any] | None = None,
    ) -> TextCall:
        full_prompt, params = self._core.validate(prompt, context, parameters)
        return TextCall(full_prompt, params, hints)

    def _chat(
        self,
        messages: Any,
        tools: Sequence[Mapping[str, Any]] | None,
        tool_choice: str | Mapping[str, Any] | None,
        parameters: Mapping[str, Any],
    ) -> ChatCall:
        msgs, params = self._core.validate_messages(messages, parameters)
        return ChatCall(msgs, params, tools, tool_choice)

    # ------------------------------------------------------------------ sync
    def resolve_protocol(self) -> str:
        """The protocol in use; for ``auto``, the Space is probed first (once, then remembered),
        and the protocol is set up (a Gradio app's config read), so :attr:`takes_messages` is
        known. Integrations call this before choosing between native chat and a chat template.
        """
        self._setup_once()
        return self._core.protocol_name

    def _needs_setup(self) -> bool:
        proto = self._core.protocol
        return proto is None or proto.setup_request() is not None

    def generate(
        self, prompt: str, *, context: Mapping[str, Any] | None = None, **parameters: Any
    ) -> str:
        """Generate text for ``prompt``; ``context`` is the guide's data dict."""
        return self.complete(prompt, context=context, **parameters).text

    def complete(
        self, prompt: str, *, context: Mapping[str, Any] | None = None, **parameters: Any
    ) -> SpaceAnswer:
        """Like :meth:`generate`, returning the text with its metadata."""
        return self._answer(self._text(prompt, context, parameters))

    def _complete_hinted(
        self,
        prompt: str,
        context: Mapping[str, Any] | None,
        parameters: Mapping[str, Any],
        hints: Mapping[str, Any],
    ) -> SpaceAnswer:
        return self._answer(self._text(prompt, context, parameters, hints))

    def generate_structure(
        self,
        prompt: str,
        schema: SchemaLike,
        *,
        context: Mapping[str, Any] | None = None,
        max_retries: int = C.DEFAULT_STRUCTURED_RETRIES,
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
        plan = VariationPlan(self, prompt, n, context, parameters, max_n, max_concurrency)
        return plan.run(unique=unique, return_exceptions=return_exceptions)

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
        return self._stream_items(self._text(prompt, context, parameters))

    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> SpaceAnswer:
        """Send OpenAI-format ``messages`` (and tools) to a chat-native (``openai``) Space."""
        return self._answer(self._chat(messages, tools, tool_choice, parameters))

    def chat_stream_chunks(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> Iterator[StreamChunk]:
        """Stream a :meth:`chat` answer; tool calls arrive on the last chunk's answer."""
        return self._stream_items(self._chat(messages, tools, tool_choice, parameters))

    def count_tokens(self, text: str) -> int | None:
        """The number of tokens of ``text`` by the Space's own tokenizer (TGI's
        ``POST /tokenize``), or ``None`` when the Space offers no tokenizer (then remembered)."""
        self._setup_once()
        if not self._tokenize_available():
            return None
        return self._tokenized(self._run(_tokenize_flow(self._core, text)))

    async def acount_tokens(self, text: str) -> int | None:
        """Async :meth:`count_tokens`."""
        await self._asetup_once()
        if not self._tokenize_available():
            return None
        return self._tokenized(await self._arun(_tokenize_flow(self._core, text)))

    def _tokenize_available(self) -> bool:
        return self._core.protocol_name == "tgi" and self._tokenize is not False

    def _tokenized(self, count: int | None) -> int | None:
        self._tokenize = count is not None
        return count

    def info(self) -> dict[str, Any] | None:
        """What the Space says about its model (TGI ``/info``; an OpenAI Space's first model).

        ``None`` when the protocol has no such description. Asked once and remembered.
        """
        if not self._info_known:
            self._info, self._info_known = self._call(info_flow(self._core)), True
        return self._info

    def runtime(self) -> SpaceRuntime | None:
        """What the Hub says of the Space now: stage, hardware, sleep time (``None`` when the
        Space's id is not known or the Hub did not answer). Sends the Space's token to the Hub
        (``HF_ENDPOINT``), which private Spaces need."""
        return self._run(runtime_flow(self._core))

    def hub_host(self) -> str | None:
        """Where the Hub says the Space is served (its ``host``), or ``None`` when the Space's
        id is not known or the Hub did not answer. Long Space names are served on a host that
        cannot be computed from the name: this is how to find it."""
        return self._run(host_flow(self._core))

    def test_connection(self, *, wake_timeout: float | None = None) -> ConnectionReport:
        """The guide's "Test Connection": a tiny generation, reported without raising.

        When the Space's id is known the Hub is asked first: a paused or failed Space is
        reported at once, with its stage."""
        client = self._probe_client(wake_timeout)
        runtime = None
        try:
            runtime = client.runtime()
            client._core.check_stage(runtime)
            client.resolve_protocol()
            probe = client._text(C.TEST_CONNECTION_PROMPT, None, client._core.probe_parameters())
            answer = client._answer(probe, use_cache=False)  # a test asks the Space itself
        except HFSpacesError as exc:
            return client._core.report(None, exc, runtime)
        except Exception as exc:  # Test Connection promises never to raise (a bug included)
            return client._core.report(None, client._core.unexpected(exc), runtime)
        return client._core.report(answer, None, client._core.hub_runtime(runtime))

    def _probe_client(self, wake_timeout: float | None) -> SpaceClient:
        if wake_timeout is None:
            return self
        probe = self.with_config(self.config.updated(wake_timeout=wake_timeout))
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
    async def aresolve_protocol(self) -> str:
        """Async :meth:`resolve_protocol`."""
        await self._asetup_once()
        return self._core.protocol_name

    async def agenerate(
        self, prompt: str, *, context: Mapping[str, Any] | None = None, **parameters: Any
    ) -> str:
        """Async :meth:`generate`."""
        return (await self.acomplete(prompt, context=context, **parameters)).text

    async def acomplete(
        self, prompt: str, *, context: Mapping[str, Any] | None = None, **parameters: Any
    ) -> SpaceAnswer:
        """Async :meth:`complete`."""
        return await self._aanswer(self._text(prompt, context, parameters))

    async def _acomplete_hinted(
        self,
        prompt: str,
        context: Mapping[str, Any] | None,
        parameters: Mapping[str, Any],
        hints: Mapping[str, Any],
    ) -> SpaceAnswer:
        return await self._aanswer(self._text(prompt, context, parameters, hints))

    async def agenerate_structure(
        self,
        prompt: str,
        schema: SchemaLike,
        *,
        context: Mapping[str, Any] | None = None,
        max_retries: int = C.DEFAULT_STRUCTURED_RETRIES,
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
        plan = VariationPlan(self, prompt, n, context, parameters, max_n, max_concurrency)
        return await plan.arun(unique=unique, return_exceptions=return_exceptions)

    async def astream(
        self, prompt: str, *, context: Mapping[str, Any] | None = None, **parameters: Any
    ) -> AsyncIterator[str]:
        """Async :meth:`stream`."""
        async for chunk in self.astream_chunks(prompt, context=context, **parameters):
            if chunk.text:
                yield chunk.text

    def astream_chunks(
        self, prompt: str, *, context: Mapping[str, Any] | None = None, **parameters: Any
    ) -> AsyncGenerator[StreamChunk, None]:
        """Async :meth:`stream_chunks`."""
        return self._astream_items(self._text(prompt, context, parameters))

    async def achat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> SpaceAnswer:
        """Async :meth:`chat`."""
        return await self._aanswer(self._chat(messages, tools, tool_choice, parameters))

    def achat_stream_chunks(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        **parameters: Any,
    ) -> AsyncGenerator[StreamChunk, None]:
        """Async :meth:`chat_stream_chunks`."""
        return self._astream_items(self._chat(messages, tools, tool_choice, parameters))

    async def ainfo(self) -> dict[str, Any] | None:
        """Async :meth:`info`."""
        if not self._info_known:
            self._info, self._info_known = await self._acall(info_flow(self._core)), True
        return self._info

    async def aruntime(self) -> SpaceRuntime | None:
        """Async :meth:`runtime`."""
        return await self._arun(runtime_flow(self._core))

    async def atest_connection(self, *, wake_timeout: float | None = None) -> ConnectionReport:
        """Async :meth:`test_connection`."""
        client = self._probe_client(wake_timeout)
        runtime = None
        try:
            runtime = await client.aruntime()
            client._core.check_stage(runtime)
            await client.aresolve_protocol()
            probe = client._text(C.TEST_CONNECTION_PROMPT, None, client._core.probe_parameters())
            answer = await client._aanswer(probe, use_cache=False)
        except HFSpacesError as exc:
            return client._core.report(None, exc, runtime)
        except Exception as exc:  # Test Connection promises never to raise (a bug included)
            return client._core.report(None, client._core.unexpected(exc), runtime)
        return client._core.report(answer, None, client._core.hub_runtime(runtime))

    async def aclose(self) -> None:
        """Close every pooled connection this client created."""
        await self._pool.aclose()

    async def __aenter__(self) -> SpaceClient:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ batches
    def _batch(
        self,
        prompts: Any,
        context: Mapping[str, Any] | None,
        parameters: Mapping[str, Any],
        max_concurrency: int | None,
        adaptive: bool,
        timeout: float | None,
    ) -> tuple[list[str], Batch]:
        from langchain_hf_spaces._batch import Batch, check_prompts

        items = check_prompts(self, prompts)
        for i, prompt in enumerate(items):  # bad input fails before anything is sent
            try:
                self._core.validate(prompt, context, parameters)
            except SpaceInputError as exc:
                raise SpaceInputError(
                    f"prompts[{i}]: {exc.message}",
                    tier=self.tier,
                    url=self.config.url,
                    hint=exc.hint,
                ) from None
        batch = Batch(
            self,
            max_concurrency=max_concurrency,
            adaptive=adaptive,
            timeout=timeout,
            size=len(items),
        )
        return items, batch

    def batch(
        self,
        prompts: Sequence[str],
        *,
        context: Mapping[str, Any] | None = None,
        max_concurrency: int | None = None,
        adaptive: bool = True,
        return_exceptions: bool = False,
        timeout: float | None = None,
        **parameters: Any,
    ) -> list[SpaceAnswer | HFSpacesError]:
        """Answer many prompts concurrently, in order, without losing any to a busy Space.

        The calls go through the Space's adaptive concurrency limit (one per Space origin,
        shared by every batch in the process): it grows while answers come back at a steady
        latency, and is cut on overload answers (a full Gradio queue, 429, 503 overloaded) and
        when latency grows (the Space is queueing). Overload answers are retried, without
        counting as failures, until the prompt's ``timeout`` (default the Space's
        ``total_timeout``, from the prompt's first attempt) would end the wait; then the
        prompt fails with a :class:`~langchain_hf_spaces.SpaceRateLimitError`.

        Args:
            max_concurrency: at most this many of this batch's calls at once (default 64).
            adaptive: ``False`` pins the limit at ``max_concurrency`` (overloads are still
                retried).
            return_exceptions: put each failed prompt's typed error in its place; else the
                first failure is raised once the calls already running have finished (sync)
                or were cancelled (async), and no new prompt is started.
            timeout: each prompt's time limit in seconds (see above).
        """
        items, batch = self._batch(prompts, context, parameters, max_concurrency, adaptive, timeout)
        return batch.map(
            len(items),
            lambda i: self.complete(items[i], context=context, **parameters),
            return_exceptions=return_exceptions,
        )

    async def abatch(
        self,
        prompts: Sequence[str],
        *,
        context: Mapping[str, Any] | None = None,
        max_concurrency: int | None = None,
        adaptive: bool = True,
        return_exceptions: bool = False,
        timeout: float | None = None,
        **parameters: Any,
    ) -> list[SpaceAnswer | HFSpacesError]:
        """Async :meth:`batch`."""
        items, batch = self._batch(prompts, context, parameters, max_concurrency, adaptive, timeout)
        return await batch.amap(
            len(items),
            lambda i: self.acomplete(items[i], context=context, **parameters),
            return_exceptions=return_exceptions,
        )
