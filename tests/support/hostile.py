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
