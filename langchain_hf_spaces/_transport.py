"""The I/O: shared httpx pools and the two drivers that carry out a call flow's actions.

:func:`drive` (sync) and :func:`adrive` (async) are the only places that send, read, sleep or
close; everything they decide on comes from the flow (``_flow``) and the exchange (``_policy``).
Both are generators that pass on the flow's :class:`~langchain_hf_spaces._flow.Emit` texts and
end with one :class:`Done` holding the flow's result. httpx errors are translated in exactly one
place, :func:`failed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._flow import CallFlow, Close, Emit, Read, SpaceCore
from langchain_hf_spaces._policy import Failed, Received, Send, Sleep, WaitEvent

__all__ = ["Done", "HTTPPool", "adrive", "aresult", "drive", "failed", "result"]

_T = TypeVar("_T")
OnWait = Callable[[WaitEvent], None]


@dataclass(frozen=True, slots=True)
class Done(Generic[_T]):
    """The last item a driver yields: the flow's result."""

    value: _T


def failed(exc: httpx.HTTPError | httpx.InvalidURL) -> Failed:
    """Translate a transport error (the one place httpx errors are mapped)."""
    if isinstance(exc, httpx.InvalidURL):
        # httpx parses a redirect's Location even when it does not follow it.
        return Failed("invalid_url", "the answer's redirect Location is not a valid URL")
    if isinstance(exc, httpx.ConnectTimeout):
        return Failed("connect_timeout", type(exc).__name__)
    if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout)):
        return Failed("read_timeout", type(exc).__name__)
    if isinstance(exc, httpx.ConnectError):
        return Failed("connect", type(exc).__name__)
    return Failed("broken", type(exc).__name__)


class _Body:
    """A non-streamed answer body, read up to the size cap (no I/O: the drivers feed it)."""

    __slots__ = ("buf", "cap", "oversize", "response")

    def __init__(self, response: httpx.Response, cap: int) -> None:
        self.response = response
        self.cap = cap
        self.buf = bytearray()
        length = response.headers.get("content-length")
        self.oversize = length is not None and length.isdigit() and int(length) > cap

    def add(self, chunk: bytes) -> bool:
        """Take a chunk; False once the body is over the cap (stop reading)."""
        self.buf += chunk
        if len(self.buf) > self.cap:
            self.oversize = True
        return not self.oversize

    def received(self) -> Received:
        r = self.response
        if self.oversize:
            return Received(r.status_code, r.headers, b"", oversize=True)
        return Received(r.status_code, r.headers, bytes(self.buf))


class _SyncStream:
    __slots__ = ("_chunks", "_response")

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._chunks = response.iter_bytes()

    def read(self) -> bytes | Failed | None:
        try:
            return next(self._chunks)
        except StopIteration:
            return None
        except httpx.HTTPError as exc:
            return Failed("broken", type(exc).__name__)

    def close(self) -> None:
        self._response.close()


class _AsyncStream:
    __slots__ = ("_chunks", "_release", "_response")

    def __init__(self, response: httpx.Response, release: Callable[[], None]) -> None:
        self._response = response
        self._chunks = response.aiter_bytes()
        self._release: Callable[[], None] | None = release

    async def read(self) -> bytes | Failed | None:
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            return None
        except httpx.HTTPError as exc:
            return Failed("broken", type(exc).__name__)

    async def close(self) -> None:
        try:
            await self._response.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


def _limits() -> httpx.Limits:
    return httpx.Limits(
        max_connections=C.DEFAULT_MAX_CONNECTIONS,
        max_keepalive_connections=C.DEFAULT_MAX_KEEPALIVE_CONNECTIONS,
    )


def _timeout(core: SpaceCore) -> httpx.Timeout:
    cfg = core.config
    return httpx.Timeout(
        connect=cfg.connect_timeout, read=cfg.read_timeout, write=cfg.read_timeout, pool=None
    )


class HTTPPool:
    """Lazily created, shared httpx clients: one sync, one async per event loop."""

    def __init__(
        self,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        # Redirects are followed by the exchange alone (it strips every credential header on a
        # change of origin and refuses https -> http): each request is sent with
        # follow_redirects=False, even on a client of yours that follows them.
        self._pid = os.getpid()
        self._sync = http_client
        self._own_sync = http_client is None
        self._async = async_http_client
        self._own_async = async_http_client is None
        self._async_loop: asyncio.AbstractEventLoop | None = None
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def _after_fork(self) -> None:
        """In a forked child the parent's connections are not ours: drop them (unclosed, so
        the parent's keep working) and start fresh. A client you passed in is kept as is."""
        if os.getpid() == self._pid:
            return
        self._pid = os.getpid()
        self._lock = threading.Lock()
        if self._own_sync:
            self._sync = None
        if self._own_async:
            self._async = None
            self._async_loop = None
        self._gates = weakref.WeakKeyDictionary()

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
        self._after_fork()
        client = self._sync
        if client is None:
            with self._lock:
                if self._sync is None:
                    self._sync = httpx.Client(limits=_limits(), follow_redirects=False)
                client = self._sync
        return client

    def async_(self) -> httpx.AsyncClient:
        self._after_fork()
        client = self._async
        if not self._own_async and client is not None:
            return client
        loop = asyncio.get_running_loop()
        if client is None or self._async_loop is not loop:
            with self._lock:
                if self._async is None or self._async_loop is not loop:
                    # A client is bound to the loop that made it; a new loop needs a new one,
                    # and the old one's sockets are closed rather than left open.
                    if self._async is not None:
                        _abandon(self._async)
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
            client, loop = self._async, self._async_loop
            self._async, self._async_loop = None, None
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


def drive(
    pool: HTTPPool, core: SpaceCore, flow: CallFlow[_T], on_wait: OnWait | None
) -> Iterator[str | Done[_T]]:
    """Carry out ``flow`` with the sync httpx client: yield its texts, then ``Done(result)``."""
    client = pool.sync()
    timeout = _timeout(core)
    cap = core.config.max_response_bytes
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
                try:
                    request = client.build_request(
                        action.method,
                        action.url,
                        json=action.json,
                        headers=action.headers,
                        timeout=timeout if action.timeout is None else action.timeout,
                    )
                    response = client.send(request, stream=True, follow_redirects=False)
                    if action.stream and 200 <= response.status_code < 300:
                        stream = _SyncStream(response)
                        opened.append(stream)
                        outcome = Received(response.status_code, response.headers, b"", stream)
                    else:
                        try:
                            body = _Body(response, cap)
                            if not body.oversize:
                                for chunk in response.iter_bytes():
                                    if not body.add(chunk):
                                        break
                            outcome = body.received()
                        finally:
                            response.close()
                except (httpx.HTTPError, httpx.InvalidURL) as exc:
                    outcome = failed(exc)
            elif isinstance(action, Read):
                outcome = action.stream.read()
            elif isinstance(action, Emit):
                yield action.text
            elif isinstance(action, Sleep):
                if on_wait is not None and action.event is not None:
                    on_wait(action.event)
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
    """Async :func:`drive`: sends through the pool's admission gate."""
    client = pool.async_()
    gate = pool.gate()
    timeout = _timeout(core)
    cap = core.config.max_response_bytes
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
                await gate.acquire()
                held = True
                try:
                    request = client.build_request(
                        action.method,
                        action.url,
                        json=action.json,
                        headers=action.headers,
                        timeout=timeout if action.timeout is None else action.timeout,
                    )
                    response = await client.send(request, stream=True, follow_redirects=False)
                    if action.stream and 200 <= response.status_code < 300:
                        # The stream keeps its place in the pool until it is closed.
                        stream = _AsyncStream(response, gate.release)
                        held = False
                        opened.append(stream)
                        outcome = Received(response.status_code, response.headers, b"", stream)
                    else:
                        try:
                            body = _Body(response, cap)
                            if not body.oversize:
                                async for chunk in response.aiter_bytes():
                                    if not body.add(chunk):
                                        break
                            outcome = body.received()
                        finally:
                            await response.aclose()
                except (httpx.HTTPError, httpx.InvalidURL) as exc:
                    outcome = failed(exc)
                finally:
                    if held:
                        gate.release()
            elif isinstance(action, Read):
                outcome = await action.stream.read()
            elif isinstance(action, Emit):
                yield action.text
            elif isinstance(action, Sleep):
                if on_wait is not None and action.event is not None:
                    on_wait(action.event)
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
