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
