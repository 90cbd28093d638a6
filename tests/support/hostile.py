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


# ------------------------------------------------------------------ named hostile answers
# Every way of answering badly the client must survive (issue #14): each is one reply, repeated
# for every request, so it also holds for the probes and polls a call makes first. Test
# Connection and `hf-spaces doctor` must report each as a failed check with a hint.
_DEEP = b"[" * 100_000 + b"]" * 100_000
_BIG = b"9" * 5000


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, compresslevel=9)


def _silent(request: bytes) -> bytes:
    """No answer for two seconds (a stuck Space: longer than the tests' read_timeout)."""
    import time

    time.sleep(2.0)
    return response("200 OK", b'{"generated_text": "too late"}')


HOSTILE_ANSWERS: dict[str, Reply] = {
    "deep JSON answer": response("200 OK", _DEEP, content_type="application/json"),
    "deep JSON 503 page": response("503 Service Unavailable", _DEEP),
    "deep JSON 400 error": response("400 Bad Request", b'{"error": ' + _DEEP + b"}"),
    "HTML instead of JSON": response(
        "200 OK", b"<!doctype html><p>hi</p>", content_type="text/html"
    ),
    "not UTF-8": response("200 OK", b"\xff\xfe\x00garbage\x80"),
    "empty answer": response("200 OK"),
    "5000-digit number": response("200 OK", b'{"generated_text": ' + _BIG + b"}"),
    "lone surrogate in an error": response("500 Oops", b'{"error": "bad \\ud800 thing"}'),
    "javascript: Location": response("302 Found", location="javascript:alert(1)"),
    "port 99999 Location": response("302 Found", location="http://127.0.0.1:99999/x"),
    "ftp: Location": response("302 Found", location="ftp://127.0.0.1/x"),
    "redirect loop": response("302 Found", location="/api/generate"),
    "garbage status line": b"HTTP/1.1 abc\r\n\r\n",
    "not HTTP at all": b"SSH-2.0-OpenSSH_9.6\r\n",
    "closed without an answer": b"",
    "truncated body": b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\nconnection: close\r\n\r\n{",
    "invalid Content-Length": b"HTTP/1.1 200 OK\r\ncontent-length: abc\r\n\r\n{}",
    "huge header": response("200 OK", b"{}", x_junk="x" * 200_000),
    "gzip bomb": response("200 OK", _gzip(b"0" * (24 << 20)), content_encoding="gzip"),
    "broken gzip": response("200 OK", b"\x1f\x8bnot really gzip", content_encoding="gzip"),
    "broken chunked body": (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
    ),
    "a megabyte of blank SSE lines": response(
        "200 OK", b"\n" * (1 << 20), content_type="text/event-stream"
    ),
    "huge SSE line": response(
        "200 OK", b": " + b"x" * (5 << 20) + b"\n\n", content_type="text/event-stream"
    ),
    "rate limited for a day": response("429 Too Many Requests", retry_after="86400"),
    "asleep forever": response(
        "503 Service Unavailable", b'{"error": "loading", "estimated_time": 1e9}'
    ),
    "silent for two seconds": _silent,
}
"""Hostile answers by name (for Test Connection and doctor; see tests/test_hostile.py)."""

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
