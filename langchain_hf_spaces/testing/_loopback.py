"""One ASGI application served by uvicorn on ``127.0.0.1`` in a background thread.

The machinery behind :class:`~langchain_hf_spaces.testing.LocalSpace` and
:class:`~langchain_hf_spaces.testing.FakeHub`: a socket bound before the server starts (so the
port is known at once), a thread with its own event loop (so sync and async clients alike are
served), a start that returns once the port accepts connections and a stop of about 0.2 s that
also ends slow answers; a stopped server can be started again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from types import TracebackType
from typing import Any, Protocol, TypeVar

import uvicorn
from starlette.types import Receive, Scope, Send

__all__ = ["HOST", "LoopbackServer", "StoppableApp"]

HOST = "127.0.0.1"
_START_TIMEOUT = 10.0


class StoppableApp(Protocol):
    """An ASGI 3 application that can end its slow answers when the server stops."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...

    def bind_stop_event(self, event: asyncio.Event) -> None:
        """Called in the server's loop before serving; the app may wait on ``event``."""

    def signal_stop(self) -> None:
        """Called in the server's loop when the server stops."""


class LoopbackServer:
    """Serves ``app`` on ``127.0.0.1:<port>`` (``port=0``: a free one, kept after stop).

    ``label`` names the server in error messages, ``thread_name`` its thread (``:<port>`` is
    appended).
    """

    def __init__(self, app: StoppableApp, *, label: str, thread_name: str, port: int = 0) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"invalid port: {port}")
        self.app = app
        self.label = label
        self.thread_name = thread_name
        self.port = port
        self._lifecycle = threading.Lock()
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_error: BaseException | None = None

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._thread is not None

    def start(self) -> None:
        """Start serving; returns once the port accepts connections."""
        with self._lifecycle:
            if self._thread is not None:
                raise RuntimeError(f"{self.label} is already running")
            sock = _bind(self.port)
            self.port = sock.getsockname()[1]
            config = uvicorn.Config(
                self.app,
                host=HOST,
                port=self.port,
                log_level="warning",
                log_config=None,
                lifespan="off",
                http="h11",
                ws="none",
                interface="asgi3",
                access_log=False,
                proxy_headers=False,
                server_header=False,
                timeout_keep_alive=5,
            )
            server = uvicorn.Server(config)
            self._thread_error = None
            thread = threading.Thread(
                target=self._run,
                args=(server, sock),
                name=f"{self.thread_name}:{self.port}",
                daemon=True,
            )
            thread.start()
            deadline = time.monotonic() + _START_TIMEOUT
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    server.should_exit = True
                    thread.join(2.0)
                    with contextlib.suppress(OSError):
                        sock.close()
                    raise RuntimeError(
                        f"{self.label} failed to start on port {self.port}"
                    ) from self._thread_error
                time.sleep(0.002)
            self._server = server
            self._thread = thread
            with socket.create_connection((HOST, self.port), timeout=2.0):
                pass

    def _run(self, server: Any, sock: socket.socket) -> None:
        try:
            asyncio.run(self._serve(server, sock))
        except BaseException as exc:  # reported by start() or ignored after stop()
            self._thread_error = exc

    async def _serve(self, server: Any, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self.app.bind_stop_event(asyncio.Event())
        await server.serve(sockets=[sock])

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving (idempotent). Connections in flight are closed."""
        with self._lifecycle:
            thread, server, loop = self._thread, self._server, self._loop
            if thread is None:
                return
            server.should_exit = True
            if loop is not None:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self.app.signal_stop)
            thread.join(1.0)
            if thread.is_alive() and loop is not None:
                server.force_exit = True
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_abort_connections, server)
                thread.join(max(0.0, timeout - 1.0))
            self._thread = None
            self._server = None
            self._loop = None


def _bind(port: int) -> socket.socket:
    # proto=IPPROTO_TCP so that asyncio sets TCP_NODELAY on accepted connections
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if os.name != "nt":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _abort_connections(server: Any) -> None:
    for connection in list(server.server_state.connections):
        transport = getattr(connection, "transport", None)
        if transport is not None:
            transport.abort()


_C = TypeVar("_C", bound="Served")


class Served:
    """``with`` / ``async with`` for a server object that has ``start()`` and ``stop()``."""

    def start(self: _C) -> _C:
        raise NotImplementedError

    def stop(self, timeout: float = 5.0) -> None:
        raise NotImplementedError

    def __enter__(self: _C) -> _C:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self: _C) -> _C:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)
