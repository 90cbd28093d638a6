"""The I/O: shared httpx pools and the two drivers that carry out a call flow's actions.

:func:`drive` (sync) and :func:`adrive` (async) are the only places that send, read, sleep or
close; everything they decide on comes from the flow (``_flow``) and the exchange (``_policy``).
Both are generators that pass on the flow's :class:`~langchain_hf_spaces._flow.Emit` texts and
end with one :class:`Done` holding the flow's result. httpx errors are translated in exactly one
place, :func:`~langchain_hf_spaces._wire.failed`; ``_wire`` also holds the deadline-clipped
sockets and the bounded decoding of answer bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import ssl
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._flow import CallFlow, Close, Emit, Read, SpaceCore
from langchain_hf_spaces._limiter import current_attempt
from langchain_hf_spaces._policy import Failed, Received, Send, Sleep, WaitEvent

__all__ = ["Done", "HTTPPool", "adrive", "aresult", "drive", "failed", "result"]


class _Deferred:
    """A module imported on first use: ``httpx`` (with httpcore and h11) is a fifth of the
    package's import time, and a program that never calls a Space need not pay it. The first
    attribute read imports the module and binds it in this one's globals in place of the
    stand-in, so later reads are plain global lookups."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        import importlib

        module = importlib.import_module(self._name)
        for key, value in list(globals().items()):
            if value is self:
                globals()[key] = module
        return getattr(module, attr)


if TYPE_CHECKING:
    import httpx

    from langchain_hf_spaces import _wire
else:
    httpx = _Deferred("httpx")
    _wire = _Deferred("langchain_hf_spaces._wire")


def failed(exc: httpx.HTTPError | httpx.InvalidURL) -> Failed:
    """The one place httpx errors are translated (see ``_wire.failed``)."""
    return _wire.failed(exc)


_T = TypeVar("_T")
OnWait = Callable[[WaitEvent], None]


@dataclass(frozen=True, slots=True)
class Done(Generic[_T]):
    """The last item a driver yields: the flow's result."""

    value: _T


class _Body:
    """A non-streamed answer body, read up to the size cap (no I/O: the drivers feed it)."""

    __slots__ = ("buf", "cap", "failure", "oversize", "response")

    def __init__(self, response: httpx.Response, cap: int) -> None:
        self.response = response
        self.cap = cap
        self.buf = bytearray()
        self.failure: Failed | None = None
        length = response.headers.get("content-length")
        self.oversize = length is not None and length.isdigit() and int(length) > cap

    def add(self, chunk: bytes | Failed) -> bool:
        """Take a decoded chunk; False once the body is over the cap (stop reading)."""
        if isinstance(chunk, Failed):
            if chunk.kind == "oversize":
                self.oversize = True
            else:
                self.failure = chunk
            return False
        self.buf += chunk
        if len(self.buf) > self.cap:
            self.oversize = True
        return not self.oversize

    def received(self) -> Received | Failed:
        r = self.response
        if self.failure is not None:
            return self.failure
        if self.oversize:
            return Received(r.status_code, r.headers, b"", oversize=True)
        return Received(r.status_code, r.headers, bytes(self.buf))


class _SyncStream:
    __slots__ = ("_chunks", "_release", "_response")

    def __init__(self, response: httpx.Response, cap: int, release: Callable[[], None]) -> None:
        self._response = response
        self._release: Callable[[], None] | None = release
        decoding = _wire._decoding(response)
        self._chunks: Iterator[bytes | Failed] = (
            iter([decoding])
            if isinstance(decoding, Failed)
            else _wire._chunks(decoding, _wire._raw(response), cap)
        )

    def read(self, budget: float | None) -> bytes | Failed | None:
        with _wire._budget(budget):
            try:
                return next(self._chunks)
            except StopIteration:
                return None
            except httpx.HTTPError as exc:
                return failed(exc)

    def close(self) -> None:
        try:
            self._response.close()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class _AsyncStream:
    __slots__ = ("_cap", "_chunks", "_decoding", "_pending", "_raw", "_release", "_response")

    def __init__(self, response: httpx.Response, cap: int, release: Callable[[], None]) -> None:
        self._response = response
        self._raw = _wire._araw(response)
        self._cap = cap
        self._decoding = _wire._decoding(response)
        self._pending: Iterator[bytes | Failed] = iter(())
        self._release: Callable[[], None] | None = release

    async def read(self, budget: float | None) -> bytes | Failed | None:
        decoding = self._decoding
        if isinstance(decoding, Failed):
            return decoding
        with _wire._budget(budget):
            while True:
                piece = next(self._pending, None)
                if piece is not None:
                    return piece
                try:
                    raw = await self._raw.__anext__()
                except StopAsyncIteration:
                    return None
                except httpx.HTTPError as exc:
                    return failed(exc)
                self._pending = _wire._chunks(decoding, iter([raw]), self._cap)

    async def close(self) -> None:
        try:
            await self._response.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


_ssl: list[ssl.SSLContext] = []


def _ssl_context() -> ssl.SSLContext:
    """One SSL context for all our clients: loading the CA bundle costs tens of milliseconds,
    which a client per Space would otherwise pay again on its first request."""
    if not _ssl:
        _ssl.append(httpx.create_ssl_context(trust_env=True))
    return _ssl[0]


def _limits() -> httpx.Limits:
    return httpx.Limits(
        max_connections=C.DEFAULT_MAX_CONNECTIONS,
        max_keepalive_connections=C.DEFAULT_MAX_KEEPALIVE_CONNECTIONS,
    )


def _timeout(core: SpaceCore, action: Send, budget: float | None) -> httpx.Timeout:
    """The request's per-phase timeouts, none longer than its budget (the deadline is also
    enforced on every socket operation; this covers a client you passed in)."""
    cfg = core.config
    connect, read = cfg.connect_timeout, cfg.read_timeout
    if action.timeout is not None:
        connect = read = action.timeout
    pool = cfg.pool_timeout
    if budget is not None:
        b = max(budget, 0.001)
        connect, read, pool = min(connect, b), min(read, b), min(pool, b)
    return httpx.Timeout(connect=connect, read=read, write=read, pool=pool)


@functools.lru_cache(maxsize=256)
def _origin(url: str) -> str:
    """``scheme://host:port`` of a request's URL (cached: parsing it was a tenth of our own
    per-call CPU, and a client sends to the same few URLs)."""
    u = httpx.URL(url)
    return f"{u.scheme}://{u.host}:{u.port or {'http': 80, 'https': 443}.get(u.scheme, 0)}"


class HTTPPool:
    """Lazily created httpx clients, one per Space origin (sync, and async per event loop).

    Each origin has its own connection pool and admission gate of ``DEFAULT_MAX_CONNECTIONS``,
    so calls hanging on one Space cannot take the connections another Space needs; a call that
    waits longer than ``pool_timeout`` for one ends in a typed error. A client you pass in is
    used for every origin (behind the same per-origin gates).
    """

    def __init__(
        self,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        # Redirects are followed by the exchange alone (it strips every credential header on a
        # change of origin and refuses https -> http): each request is sent with
        # follow_redirects=False, even on a client of yours that follows them.
        self._pid = os.getpid()
        self._user_sync = http_client
        self._user_async = async_http_client
        self._sync: dict[str, httpx.Client] = {}
        self._async: dict[str, httpx.AsyncClient] = {}
        self._async_loop: asyncio.AbstractEventLoop | None = None
        self._sync_gates: dict[str, threading.BoundedSemaphore] = {}
        self._gates: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _after_fork(self) -> None:
        """In a forked child the parent's connections are not ours: drop them (unclosed, so
        the parent's keep working) and start fresh. A client you passed in is kept as is."""
        if os.getpid() == self._pid:
            return
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._sync = {}
        self._async = {}
        self._async_loop = None
        self._sync_gates = {}
        self._gates = weakref.WeakKeyDictionary()

    def sync_gate(self, origin: str) -> threading.BoundedSemaphore:
        """Admission to one origin's connections (sync)."""
        gate = self._sync_gates.get(origin)
        if gate is None:
            with self._lock:
                gate = self._sync_gates.setdefault(
                    origin, threading.BoundedSemaphore(C.DEFAULT_MAX_CONNECTIONS)
                )
        return gate

    def gate(self, origin: str = "") -> asyncio.Semaphore:
        """Admission to one origin's async connections, one per event loop.

        httpx's pool scans every waiting request each time a connection frees up, so a burst of
        thousands of coroutines slows to a crawl inside it; waiting here instead keeps its queue
        no longer than its connection limit.
        """
        loop = asyncio.get_running_loop()
        gates = self._gates.get(loop)
        if gates is None:
            gates = self._gates.setdefault(loop, {})
        gate = gates.get(origin)
        if gate is None:
            gate = gates.setdefault(origin, asyncio.Semaphore(C.DEFAULT_MAX_CONNECTIONS))
        return gate

    def sync(self, origin: str = "") -> httpx.Client:
        self._after_fork()
        if self._user_sync is not None:
            return self._user_sync
        client = self._sync.get(origin)
        if client is None:
            with self._lock:
                client = self._sync.get(origin)
                if client is None:
                    client = httpx.Client(
                        limits=_limits(), follow_redirects=False, verify=_ssl_context()
                    )
                    _wire._enforce_deadlines(client)
                    self._sync[origin] = client
        return client

    def async_(self, origin: str = "") -> httpx.AsyncClient:
        self._after_fork()
        if self._user_async is not None:
            return self._user_async
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._async_loop is not loop:
                # A client is bound to the loop that made it; a new loop needs new ones, and
                # the old ones' sockets are closed rather than left open.
                for old in self._async.values():
                    _abandon(old)
                self._async = {}
                self._async_loop = loop
            client = self._async.get(origin)
            if client is None:
                client = httpx.AsyncClient(
                    limits=_limits(), follow_redirects=False, verify=_ssl_context()
                )
                _wire._enforce_deadlines(client)
                self._async[origin] = client
        return client

    def close(self) -> None:
        clients, self._sync = list(self._sync.values()), {}
        for client in clients:
            client.close()

    async def aclose(self) -> None:
        clients, loop = list(self._async.values()), self._async_loop
        self._async, self._async_loop = {}, None
        for client in clients:
            if loop is None or loop is asyncio.get_running_loop():
                await client.aclose()
            else:  # its event loop is gone (asyncio.run ended): close its sockets directly
                _abandon(client)
        self.close()


def _abandon(client: httpx.AsyncClient) -> None:
    """Close the sockets of an async client whose event loop is gone (it cannot be awaited)."""
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    for connection in list(getattr(pool, "_connections", None) or ()):
        inner = getattr(connection, "_connection", None)
        stream = getattr(inner, "_network_stream", None)
        try:
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                sock.close()
        except Exception:  # noqa: S110 - best effort on a client nobody can use again
            pass
    with contextlib.suppress(AttributeError, TypeError):
        pool._connections = []  # type: ignore[union-attr]


def _gate_wait(core: SpaceCore, budget: float | None) -> tuple[float, str]:
    """How long a request may wait for a connection, and what ran out if it waits that long."""
    wait = core.config.pool_timeout
    if budget is not None and budget < wait:
        return max(budget, 0.0), "deadline"
    return wait, "pool_timeout"


def _left(budget: float | None, since: float) -> float | None:
    return None if budget is None else budget - (time.monotonic() - since)


def _request(
    client: httpx.Client | httpx.AsyncClient, core: SpaceCore, action: Send, budget: float | None
) -> httpx.Request:
    return client.build_request(
        action.method,
        action.url,
        json=action.json,
        headers={"accept-encoding": _wire.ACCEPT_ENCODING, **action.headers},
        timeout=_timeout(core, action, budget),
    )


def _sync_send(
    pool: HTTPPool, core: SpaceCore, action: Send, opened: list[_SyncStream]
) -> Received | Failed:
    """One request with the sync client: a slot in its origin's pool, then the answer."""
    since = time.monotonic()
    try:
        origin = _origin(action.url)
    except (httpx.InvalidURL, ValueError):
        return Failed("invalid_url", "the request's URL is not valid")
    gate = pool.sync_gate(origin)
    wait, what = _gate_wait(core, action.budget)
    if not gate.acquire(timeout=wait):
        return Failed(what, f"no free connection within {wait:.1f}s")
    held = True
    cap = core.config.max_response_bytes
    budget = _left(action.budget, since)
    try:
        with _wire._budget(budget):
            try:
                client = pool.sync(origin)
                request = _request(client, core, action, budget)
                response = client.send(request, stream=True, follow_redirects=False)
                if action.stream and 200 <= response.status_code < 300:
                    stream = _SyncStream(response, cap, gate.release)
                    held = False  # the stream keeps its place in the pool until it is closed
                    opened.append(stream)
                    return Received(response.status_code, response.headers, b"", stream)
                page = _wire._tighter(_wire._page_left(action, response.status_code, since))
                try:
                    with page:
                        body = _Body(response, cap)
                        decoding = _wire._decoding(response)
                        if isinstance(decoding, Failed):
                            return decoding
                        if not body.oversize:
                            for chunk in _wire._chunks(decoding, _wire._raw(response), cap):
                                if _wire._past_deadline():
                                    return page.failed("the answer was still arriving")
                                if not body.add(chunk):
                                    break
                        return body.received()
                except httpx.HTTPError as exc:
                    return page.relabel(exc)
                finally:
                    response.close()
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                return failed(exc)
    finally:
        if held:
            gate.release()


async def _async_send(
    pool: HTTPPool, core: SpaceCore, action: Send, opened: list[_AsyncStream]
) -> Received | Failed:
    """Async :func:`_sync_send`."""
    since = time.monotonic()
    try:
        origin = _origin(action.url)
    except (httpx.InvalidURL, ValueError):
        return Failed("invalid_url", "the request's URL is not valid")
    gate = pool.gate(origin)
    wait, what = _gate_wait(core, action.budget)
    if gate.locked():
        try:
            await asyncio.wait_for(gate.acquire(), wait)
        except asyncio.TimeoutError:
            return Failed(what, f"no free connection within {wait:.1f}s")
    else:
        await gate.acquire()
    held = True
    cap = core.config.max_response_bytes
    budget = _left(action.budget, since)
    try:
        with _wire._budget(budget):
            try:
                client = pool.async_(origin)
                request = _request(client, core, action, budget)
                response = await client.send(request, stream=True, follow_redirects=False)
                if action.stream and 200 <= response.status_code < 300:
                    stream = _AsyncStream(response, cap, gate.release)
                    held = False
                    opened.append(stream)
                    return Received(response.status_code, response.headers, b"", stream)
                page = _wire._tighter(_wire._page_left(action, response.status_code, since))
                try:
                    with page:
                        body = _Body(response, cap)
                        decoding = _wire._decoding(response)
                        if isinstance(decoding, Failed):
                            return decoding
                        if not body.oversize:
                            async for raw in _wire._araw(response):
                                if _wire._past_deadline():
                                    return page.failed("the answer was still arriving")
                                if not all(
                                    body.add(c) for c in _wire._chunks(decoding, iter([raw]), cap)
                                ):
                                    break
                        return body.received()
                except httpx.HTTPError as exc:
                    return page.relabel(exc)
                finally:
                    await response.aclose()
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                return failed(exc)
    finally:
        if held:
            gate.release()


def _waiting(event: WaitEvent, on_wait: OnWait | None) -> None:
    """Hand a wait to ``on_wait``; a wait in the Space's queue is noted on the batch attempt
    the call belongs to (its progress line counts them)."""
    if event.reason == "queued":
        attempt = current_attempt()
        if attempt is not None:
            attempt.queued = True
    if on_wait is not None:
        on_wait(event)


def drive(
    pool: HTTPPool, core: SpaceCore, flow: CallFlow[_T], on_wait: OnWait | None
) -> Iterator[str | Done[_T]]:
    """Carry out ``flow`` with the sync httpx client: yield its texts, then ``Done(result)``."""
    opened: list[_SyncStream] = []
    outcome: Any = None
    try:
        while True:
            try:
                action = flow.send(outcome)
            except StopIteration as stop:
                yield Done(stop.value)
                return
            outcome = None
            if isinstance(action, Send):
                outcome = _sync_send(pool, core, action, opened)
            elif isinstance(action, Read):
                outcome = action.stream.read(action.budget)
            elif isinstance(action, Emit):
                yield action.text
            elif isinstance(action, Sleep):
                if action.event is not None:
                    _waiting(action.event, on_wait)
                time.sleep(action.seconds)
            elif isinstance(action, Close):
                action.stream.close()
                opened.remove(action.stream)
    finally:
        flow.close()
        for stream in opened:
            stream.close()


async def adrive(
    pool: HTTPPool, core: SpaceCore, flow: CallFlow[_T], on_wait: OnWait | None
) -> AsyncIterator[str | Done[_T]]:
    """Async :func:`drive`: sends through each origin's admission gate."""
    opened: list[_AsyncStream] = []
    outcome: Any = None
    try:
        while True:
            try:
                action = flow.send(outcome)
            except StopIteration as stop:
                yield Done(stop.value)
                return
            outcome = None
            if isinstance(action, Send):
                outcome = await _async_send(pool, core, action, opened)
            elif isinstance(action, Read):
                outcome = await action.stream.read(action.budget)
            elif isinstance(action, Emit):
                yield action.text
            elif isinstance(action, Sleep):
                if action.event is not None:
                    _waiting(action.event, on_wait)
                await asyncio.sleep(action.seconds)
            elif isinstance(action, Close):
                await action.stream.close()
                opened.remove(action.stream)
    finally:
        flow.close()
        for stream in opened:
            await stream.close()


def result(items: Iterator[str | Done[_T]]) -> _T:
    """Run a driver to its end; the flow's result."""
    for item in items:
        if isinstance(item, Done):
            return item.value
    raise RuntimeError("the call flow ended without a result")  # pragma: no cover


async def aresult(items: AsyncIterator[str | Done[_T]]) -> _T:
    """Async :func:`result`."""
    async for item in items:
        if isinstance(item, Done):
            return item.value
    raise RuntimeError("the call flow ended without a result")  # pragma: no cover
