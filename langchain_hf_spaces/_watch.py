"""One call's monitoring and caching, shared by the sync and async paths of ``SpaceClient``.

:class:`Monitor` (one per client) holds the observers and the response cache; for each call its
:meth:`Monitor.begin` gives a :class:`CallWatch`, or ``None`` when there is nothing to do (no
observer, no cache worth asking): then the call runs exactly as without monitoring. A watch
looks the answer up, stores it, fans events out to every observer (one that raises is logged at
DEBUG and skipped) and ends the observers' scopes exactly once. No I/O here but the cache's own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any

from langchain_hf_spaces._answers import SpaceAnswer, StreamChunk
from langchain_hf_spaces._cache import ResponseCache, is_deterministic, request_key
from langchain_hf_spaces._flow import Call, ChatCall, SpaceCore
from langchain_hf_spaces._observe import CallObserver, CallScope, CallStart, default_observers
from langchain_hf_spaces._policy import WaitEvent
from langchain_hf_spaces.errors import SpaceConfigError

__all__ = ["CallWatch", "Monitor"]

logger = logging.getLogger("langchain_hf_spaces")

OnWait = Callable[[WaitEvent], None]


def _ignored(what: str, exc: BaseException) -> None:
    logger.debug("an observer's %s raised %s; ignored", what, type(exc).__name__, exc_info=exc)


class _Scopes:
    """Every observer's scope of one call, each event handed to all, failures ignored."""

    __slots__ = ("_scopes",)

    def __init__(self, observers: Sequence[CallObserver], call: CallStart) -> None:
        scopes: list[CallScope] = []
        for observer in observers:
            try:
                scopes.append(observer.start(call))
            except Exception as exc:
                _ignored("start", exc)
        self._scopes = scopes

    def on_wait(self, event: WaitEvent) -> None:
        for scope in self._scopes:
            try:
                scope.on_wait(event)
            except Exception as exc:
                _ignored("on_wait", exc)

    def on_first_chunk(self) -> None:
        for scope in self._scopes:
            try:
                scope.on_first_chunk()
            except Exception as exc:
                _ignored("on_first_chunk", exc)

    def end(self, answer: SpaceAnswer | None, error: BaseException | None) -> None:
        for scope in self._scopes:
            try:
                scope.end(answer, error)
            except Exception as exc:
                _ignored("end", exc)


class CallWatch:
    """One call being watched (and perhaps cached). A context manager around the call: an
    exception leaving it ends the call with that error; a stream closed early
    (``GeneratorExit``) ends it with ``(None, None)``."""

    __slots__ = ("_cache", "_core", "_ended", "_first", "_key", "_scopes", "on_wait")

    def __init__(
        self,
        core: SpaceCore,
        scopes: _Scopes | None,
        cache: ResponseCache | None,
        key: str | None,
        on_wait: OnWait | None,
    ) -> None:
        self._core = core
        self._scopes = scopes
        self._cache = cache if key is not None else None
        self._key = key
        self._ended = False
        self._first = True
        self.on_wait: OnWait | None = on_wait
        """The callback the drivers get: the caller's ``on_wait`` and then the observers'."""
        if scopes is not None:
            self.on_wait = scopes.on_wait if on_wait is None else _both(on_wait, scopes.on_wait)

    # ------------------------------------------------------------ the cache
    def _hit(self, stored: SpaceAnswer | None) -> SpaceAnswer | None:
        if stored is None:
            return None
        core = self._core
        return replace(stored, cached=True, profile=core.profile, variant=core.variant)

    def _cache_failed(self, what: str, exc: Exception) -> None:
        logger.warning(
            "response cache %r: %s failed (%s: %s); the Space is asked instead",
            self._cache,
            what,
            type(exc).__name__,
            exc,
        )

    def lookup(self) -> SpaceAnswer | None:
        """The cached answer (marked ``cached``), or ``None``."""
        if self._cache is None or self._key is None:
            return None
        try:
            return self._hit(self._cache.get(self._key))
        except Exception as exc:  # a broken cache never breaks the call
            self._cache_failed("a look-up", exc)
            return None

    async def alookup(self) -> SpaceAnswer | None:
        if self._cache is None or self._key is None:
            return None
        try:
            return self._hit(await self._cache.aget(self._key))
        except Exception as exc:
            self._cache_failed("a look-up", exc)
            return None

    def store(self, answer: SpaceAnswer) -> None:
        if self._cache is None or self._key is None:
            return
        try:
            self._cache.set(self._key, answer)
        except Exception as exc:
            self._cache_failed("storing an answer", exc)

    async def astore(self, answer: SpaceAnswer) -> None:
        if self._cache is None or self._key is None:
            return
        try:
            await self._cache.aset(self._key, answer)
        except Exception as exc:
            self._cache_failed("storing an answer", exc)

    # ----------------------------------------------------------- observers
    def end(self, answer: SpaceAnswer | None, error: BaseException | None) -> None:
        """End the call (the first time only)."""
        if self._ended:
            return
        self._ended = True
        if self._scopes is not None:
            self._scopes.end(answer, error)

    def done(self, answer: SpaceAnswer) -> SpaceAnswer:
        self.end(answer, None)
        return answer

    def passed(self, chunk: StreamChunk) -> StreamChunk:
        """A streamed chunk about to reach the caller: the first text is news; the final
        chunk's answer ends the call."""
        if self._first and chunk.text:
            self._first = False
            if self._scopes is not None:
                self._scopes.on_first_chunk()
        if chunk.answer is not None:
            self.end(chunk.answer, None)
        return chunk

    def replay(self, answer: SpaceAnswer) -> list[StreamChunk]:
        """A cached stream, as it is replayed: its whole text in one chunk, then the final
        chunk with the answer."""
        chunks = [StreamChunk(answer.text)] if answer.text else []
        chunks.append(StreamChunk("", answer))
        return chunks

    def __enter__(self) -> CallWatch:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(e, GeneratorExit) or e is None:
            self.end(None, None)  # a stream left early (a finished call has ended already)
        else:
            self.end(None, e)


def _both(first: OnWait, second: OnWait) -> OnWait:
    def on_wait(event: WaitEvent) -> None:
        first(event)
        second(event)

    return on_wait


class Monitor:
    """A client's observers and response cache."""

    __slots__ = ("cache", "observers")

    def __init__(self, observers: Sequence[CallObserver], cache: ResponseCache | None) -> None:
        self.observers = tuple(observers)
        self.cache = cache

    @classmethod
    def make(
        cls, observers: Sequence[CallObserver] | None, cache: Any, tier: str, url: str
    ) -> Monitor:
        """A client's monitor, its arguments checked (a wrong object fails at construction);
        ``observers=None`` is :func:`default_observers`."""
        if cache is not None and not isinstance(cache, ResponseCache):
            raise SpaceConfigError(
                f"cache={cache!r} is not a response cache.",
                tier=tier,
                url=url,
                hint="Pass MemoryCache(), SQLiteCache(path), or an object with get/set/aget/"
                "aset and deterministic_only.",
            )
        chosen = default_observers() if observers is None else list(observers)
        for observer in chosen:
            if not callable(getattr(observer, "start", None)):
                raise SpaceConfigError(
                    f"observers holds {observer!r}, which has no start(call) method.",
                    tier=tier,
                    url=url,
                    hint="An observer implements CallObserver: start(CallStart) -> CallScope.",
                )
        return cls(chosen, cache)

    def begin(
        self,
        core: SpaceCore,
        call: Call,
        *,
        stream: bool,
        on_wait: OnWait | None,
        use_cache: bool = True,
    ) -> CallWatch | None:
        """The watch of ``call``, or ``None`` when neither an observer nor the cache has a part
        in it (the fast path: no objects made)."""
        cache = self.cache if use_cache else None
        key = None
        hints = getattr(call, "hints", None)
        if cache is not None and (
            not cache.deterministic_only or is_deterministic(call.params, hints)
        ):
            key = request_key(core, call)
        if not self.observers and key is None:
            return None
        scopes = None
        if self.observers:
            scopes = _Scopes(self.observers, _start(core, call, stream, key is not None, hints))
        return CallWatch(core, scopes, cache, key, on_wait)


def _start(core: SpaceCore, call: Call, stream: bool, cache_lookup: bool, hints: Any) -> CallStart:
    cfg = core.config
    chat = isinstance(call, ChatCall)
    params = {**hints, **call.params} if hints else call.params
    return CallStart(
        operation="chat" if chat else "text_completion",
        tier=core.tier,
        url=cfg.url,
        protocol=core.protocol_name,
        model=cfg.model or cfg.space_id,
        revision=cfg.revision,
        profile=core.profile,
        variant=core.variant,
        stream=stream,
        parameters=params,
        prompt=None if chat else call.prompt,
        messages=call.messages if isinstance(call, ChatCall) else None,
        cache_lookup=cache_lookup,
    )
