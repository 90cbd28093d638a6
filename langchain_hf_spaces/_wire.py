"""What the drivers do to every socket and every answer body, with no policy of their own.

* The deadline, enforced: the flow hands each request and each read of a stream a budget; the
  drivers set it here (``_budget``), and our clients' sockets (``_enforce_deadlines``) clip every
  read, write and connect to it, so a trickle cannot outlast it.
* Bounded decoding: answer bodies are read raw and decoded here in steps of at most ``_CHUNK``
  bytes, counting decoded bytes, so a compression bomb stops at the cap.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import select
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpcore
import httpx

from langchain_hf_spaces._policy import Failed, Send


def failed(exc: httpx.HTTPError | httpx.InvalidURL) -> Failed:
    """Translate a transport error (the one place httpx errors are mapped)."""
    if isinstance(exc, httpx.InvalidURL):
        # httpx parses a redirect's Location even when it does not follow it.
        return Failed("invalid_url", "the answer's redirect Location is not a valid URL")
    if isinstance(exc, httpx.PoolTimeout):
        return Failed("pool_timeout", type(exc).__name__)
    if isinstance(exc, httpx.TimeoutException) and _past_deadline():
        return Failed("deadline", type(exc).__name__)
    if isinstance(exc, httpx.ConnectTimeout):
        return Failed("connect_timeout", type(exc).__name__)
    if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout)):
        return Failed("read_timeout", type(exc).__name__)
    if isinstance(exc, httpx.ConnectError):
        return Failed("connect", type(exc).__name__)
    return Failed("broken", type(exc).__name__)


_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "langchain_hf_spaces_deadline", default=None
)
"""The ``time.monotonic()`` by which the current request or read must be over (from the budget
its Send or Read carried); every socket operation of our clients is clipped to it."""


def _past_deadline() -> bool:
    at = _DEADLINE.get()
    return at is not None and time.monotonic() >= at - 0.01


def _clip(timeout: float | None) -> float | None:
    """``timeout`` for one socket operation, shortened to what is left of the deadline."""
    at = _DEADLINE.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the call's deadline passed")
    return left if timeout is None else min(timeout, left)


@contextlib.contextmanager
def _budget(seconds: float | None) -> Iterator[None]:
    token = _DEADLINE.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _page_left(action: Send, status: int, since: float) -> float | None:
    """What is left of the Send's ``page_budget`` for the body of a non-2xx answer."""
    if action.page_budget is None or 200 <= status < 300:
        return None
    return action.page_budget - (time.monotonic() - since)


class _tighter:
    """Shorten the deadline to ``seconds`` from now while reading one page, and tell which
    limit ended it: the call's (``deadline``) or the page's (``wake_deadline``)."""

    __slots__ = ("_at", "_binding", "_seconds", "_token")

    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds
        self._at = 0.0
        self._binding = False
        self._token: contextvars.Token[float | None] | None = None

    def __enter__(self) -> None:
        if self._seconds is None:
            return
        outer = _DEADLINE.get()
        at = self._at = time.monotonic() + self._seconds
        if outer is None or at < outer:
            self._binding = True
            self._token = _DEADLINE.set(at)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _DEADLINE.reset(self._token)
            self._token = None

    def failed(self, detail: str) -> Failed:
        return Failed("wake_deadline" if self._binding else "deadline", detail)

    def relabel(self, exc: httpx.HTTPError) -> Failed:
        """``failed(exc)``, knowing that the page's own deadline may have ended it."""
        if (
            self._binding
            and isinstance(exc, httpx.TimeoutException)
            and time.monotonic() >= self._at - 0.01
        ):
            return Failed("wake_deadline", type(exc).__name__)
        return failed(exc)


class _ClippedStream(httpcore.NetworkStream):
    """A socket whose every read and write ends at the deadline (a trickle cannot outlast it)."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clip(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clip(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _ClippedStream(self._inner.start_tls(ssl_context, server_hostname, _clip(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        return _ClippedStream(
            self._inner.connect_tcp(host, port, _clip(timeout), local_address, socket_options)
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        return _ClippedStream(self._inner.connect_unix_socket(path, _clip(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _readable(sock: Any) -> bool:
    """Whether a socket has data (or its end) waiting: what httpcore asks of every idle
    connection in the pool each time a request looks for one."""
    fd = sock.fileno()
    if fd < 0:
        return True  # closed: as if the next read returned its end
    poll = getattr(select, "poll", None)
    if poll is None:  # pragma: no cover - Windows
        return bool(select.select([fd], [], [], 0)[0])
    p = poll()
    p.register(fd, select.POLLIN)
    return bool(p.poll(0))


class _AsyncClippedStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._sock: Any = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, _clip(timeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, _clip(timeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        inner = await self._inner.start_tls(ssl_context, server_hostname, _clip(timeout))
        return _AsyncClippedStream(inner)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # httpcore's anyio stream answers this through anyio's typed attributes, which
            # build a dict of every attribute per question: ~10x a poll of the socket itself.
            # The pool asks it of every idle connection for every request it places.
            sock = self._sock
            if sock is None:
                sock = self._sock = self._inner.get_extra_info("socket")
            if sock is not None and hasattr(sock, "fileno"):  # asyncio's TransportSocket too
                return _readable(sock)
        return self._inner.get_extra_info(info)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        inner = await self._inner.connect_tcp(
            host, port, _clip(timeout), local_address, socket_options
        )
        return _AsyncClippedStream(inner)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        inner = await self._inner.connect_unix_socket(path, _clip(timeout), socket_options)
        return _AsyncClippedStream(inner)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _enforce_deadlines(client: httpx.Client | httpx.AsyncClient) -> None:
    """Give our own client's connection pools sockets clipped to the deadline (httpx has no
    total timeout and no public hook for it; without this, only the chunk checks remain)."""
    wrap: Any = _AsyncBackend if isinstance(client, httpx.AsyncClient) else _Backend
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is not None and not isinstance(backend, (_Backend, _AsyncBackend)):
            pool._network_backend = wrap(backend)  # type: ignore[union-attr]


# ---------------------------------------------------------------- bounded decoding
_CHUNK = 64 * 1024
"""Decoded bytes taken at a time: a compression bomb never expands by more than this at once."""

_brotli: Any
try:  # brotli is optional (httpx's `brotli` extra); without it, br is neither asked nor taken
    _brotli = importlib.import_module("brotli")
except ImportError:  # pragma: no cover - depends on the installation
    _brotli = None

ACCEPT_ENCODING = "gzip, deflate" + (", br" if _brotli is not None else "")
"""What we ask for: only codings :class:`_Decoding` decodes in bounded steps (not zstd)."""


class _Coding:
    """One content coding, decoded at most ``limit`` bytes at a time."""

    __slots__ = ("_brotli", "_first", "_pending", "_zlib", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._pending = b""
        self._first = True
        self._zlib: Any = None
        self._brotli: Any = None
        if name in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif name == "deflate":
            self._zlib = zlib.decompressobj()
        elif name == "br" and _brotli is not None:
            self._brotli = _brotli.Decompressor()
        else:
            raise ValueError(f"unsupported Content-Encoding {name!r}")

    def push(self, data: bytes) -> None:
        self._pending += data

    def pull(self, limit: int) -> bytes:
        if self._brotli is not None:
            data = b""
            if self._pending and self._brotli.can_accept_more_data():
                data, self._pending = self._pending, b""
            out: bytes = self._brotli.process(data, output_buffer_limit=limit)
            return out
        d = self._zlib
        if d.eof:
            return b""
        try:
            out = d.decompress(self._pending, limit)
        except zlib.error:
            if not (self.name == "deflate" and self._first):
                raise
            self._zlib = d = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as httpx does
            out = d.decompress(self._pending, limit)
        self._first = False
        self._pending = d.unconsumed_tail
        return out


class _Decoding:
    """An answer body decoded in bounded steps, counting decoded bytes (no I/O).

    The drivers push raw chunks (``iter_raw``) and take decoded pieces of at most ``_CHUNK``
    bytes; once ``total`` passes the cap they stop reading, so a 166-byte ``gzip, br`` bomb
    costs a few chunks of memory, not gigabytes."""

    __slots__ = ("_stages", "raw", "total")

    def __init__(self, headers: httpx.Headers) -> None:
        names = [
            n.strip().lower() for n in headers.get("content-encoding", "").split(",") if n.strip()
        ]
        # "gzip, br" was gzipped, then brotli'd: undo br first.
        self._stages = [_Coding(n) for n in reversed(names) if n != "identity"]
        self.raw = b""
        self.total = 0

    def push(self, raw: bytes) -> None:
        if self._stages:
            self._stages[0].push(raw)
        else:
            self.raw += raw

    def take(self) -> bytes:
        """The next decoded piece (``b""``: more raw bytes are needed)."""
        if not self._stages:
            out, self.raw = self.raw[:_CHUNK], self.raw[_CHUNK:]
        else:
            out = self._pull(len(self._stages) - 1)
        self.total += len(out)
        return out

    def _pull(self, i: int) -> bytes:
        stage = self._stages[i]
        while True:
            out = stage.pull(_CHUNK)
            if out or i == 0:
                return out
            more = self._pull(i - 1)
            if not more:
                return b""
            stage.push(more)


def _decoding(response: httpx.Response) -> _Decoding | Failed:
    if response.is_stream_consumed:  # read already (a MockTransport answer): decoded by httpx
        return _Decoding(httpx.Headers())
    try:
        return _Decoding(response.headers)
    except ValueError as exc:
        return Failed("bad_encoding", str(exc))


def _raw(response: httpx.Response) -> Iterator[bytes]:
    return iter([response.content]) if response.is_stream_consumed else response.iter_raw()


async def _araw(response: httpx.Response) -> AsyncIterator[bytes]:
    if response.is_stream_consumed:
        yield response.content
    else:
        async for chunk in response.aiter_raw():
            yield chunk


_DECODE_ERRORS: tuple[type[BaseException], ...] = (zlib.error,) + (
    (_brotli.error,) if _brotli is not None else ()
)


def _chunks(decoding: _Decoding, raw: Iterator[bytes], cap: int) -> Iterator[bytes | Failed]:
    """Decoded pieces of ``raw``, ending in ``Failed`` past ``cap`` or on a corrupt coding."""
    for chunk in raw:
        decoding.push(chunk)
        while True:
            try:
                piece = decoding.take()
            except _DECODE_ERRORS as exc:
                yield Failed("bad_encoding", f"{type(exc).__name__}: {exc}")
                return
            if not piece:
                break
            if decoding.total > cap:
                yield Failed("oversize", f"more than {cap} bytes decoded")
                return
            yield piece
