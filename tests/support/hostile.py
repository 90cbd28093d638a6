"""A raw-socket HTTP server on loopback that answers whatever bytes a test scripts.

Real servers cannot be made to send malformed or hostile HTTP; this one can. Each accepted
connection reads one request (headers and a Content-Length body) and answers with the next
scripted reply: raw bytes, or a callable given the request that returns them.

    with HostileServer([b"HTTP/1.1 302 Found\\r\\nLocation: http://x\\r\\n\\r\\n"]) as srv:
        ...  # srv.url, srv.requests (raw request bytes)
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Sequence
from types import TracebackType

Reply = bytes | Callable[[bytes], bytes]


def response(status: str, body: bytes = b"", **headers: str) -> bytes:
    """A well-formed HTTP/1.1 answer (``status`` like ``"200 OK"``), closing the connection."""
    lines = [f"HTTP/1.1 {status}"]
    fields = {"content-length": str(len(body)), "connection": "close", **headers}
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class HostileServer:
    def __init__(self, replies: Sequence[Reply], *, repeat_last: bool = True) -> None:
        self.replies = list(replies)
        self.repeat_last = repeat_last
        self.requests: list[bytes] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _read_request(self, conn: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip() or 0)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        index = 0
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with conn:
                request = self._read_request(conn)
                self.requests.append(request)
                if index < len(self.replies):
                    reply = self.replies[index]
                    index += 1
                elif self.repeat_last and self.replies:
                    reply = self.replies[-1]
                else:
                    continue
                out = reply(request) if callable(reply) else reply
                with contextlib.suppress(OSError):
                    conn.sendall(out)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


# ------------------------------------------------------------------ slow and stuck answers
# (issue #14: deadlines, pools). Each connection is served in its own thread by a behaviour
# that writes at its own pace until the server stops; the replies above stay one at a time.
Behaviour = Callable[[socket.socket, bytes, threading.Event], None]


class SlowServer(HostileServer):
    """A :class:`HostileServer` whose every connection runs ``behaviour(conn, request, stop)``
    in a thread of its own (many calls can hang on it at once)."""

    def __init__(self, behaviour: Behaviour) -> None:
        super().__init__([])
        self.behaviour = behaviour

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            request = self._read_request(conn)
            self.requests.append(request)
            self.behaviour(conn, request, self._stop)


def hang(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    """Read the request, never answer (until the server stops)."""
    stop.wait()


def trickle(head: bytes, *, every: float = 0.5, with_head: bool = True) -> Behaviour:
    """Send ``head`` (status line and headers; byte by byte too with ``with_head``), then one
    body byte every ``every`` seconds, forever: each gap is shorter than any read timeout."""

    def behave(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
        if with_head:
            for i in range(len(head)):
                conn.sendall(head[i : i + 1])
                if stop.wait(every):
                    return
        else:
            conn.sendall(head)
        while not stop.wait(every):
            conn.sendall(b" ")

    return behave


def heartbeats(*, every: float = 0.2) -> Behaviour:
    """A 200 event stream that sends only SSE comments (heartbeats), forever."""

    def behave(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
        )
        while not stop.wait(every):
            conn.sendall(b": heartbeat\n\n")

    return behave


def answer(reply: bytes, *, delay: float = 0.0) -> Behaviour:
    """Answer ``reply`` (after ``delay`` seconds)."""

    def behave(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
        if not stop.wait(delay):
            conn.sendall(reply)

    return behave


def bomb(encoding: str, size: int, pattern: bytes = b"\0") -> bytes:
    """``size`` bytes of ``pattern`` compressed with ``encoding`` (``"gzip"``, ``"br"`` or
    ``"gzip, br"``: gzip, then brotli), built in 1 MiB steps (never held whole)."""
    import zlib

    import brotli

    block = pattern * (1024 * 1024 // len(pattern))
    gz = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    parts = [gz.compress(block) for _ in range(size // len(block))]
    data = b"".join(parts) + gz.flush()
    if encoding == "gzip":
        return data
    if encoding == "br":
        raise ValueError("use 'gzip, br'")
    return bytes(brotli.compress(data, quality=11))
