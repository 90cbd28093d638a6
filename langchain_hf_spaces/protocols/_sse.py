"""A Server-Sent Events decoder for bytes, incremental and I/O-free (WHATWG rules).

Linear in what it is fed: each byte is scanned once (``bytes.splitlines`` on the new chunk only),
a partial line is kept as pieces until its terminator arrives, and runs of blank lines or
comments between events cost no decoding. A line, or the data of one event, longer than
``max_event_bytes`` raises :class:`SSEError` (the stream reader makes it a typed error).
"""

from __future__ import annotations

from dataclasses import dataclass

from langchain_hf_spaces._constants import MAX_SSE_EVENT_BYTES

__all__ = ["SSEDecoder", "SSEError", "SSEEvent"]

_BLANK = frozenset((b"\n", b"\r", b"\r\n"))


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str
    data: str
    id: str | None = None


class SSEError(ValueError):
    """The event stream broke a limit (a line or an event larger than ``max_event_bytes``)."""


class SSEDecoder:
    """Feed bytes as they arrive; get complete events back.

    >>> d = SSEDecoder()
    >>> d.feed(b"event: generating\\ndata: [\\"he")
    []
    >>> d.feed(b"llo\\"]\\n\\n")
    [SSEEvent(event='generating', data='["hello"]', id=None)]
    """

    __slots__ = (
        "_after_cr",
        "_data",
        "_event",
        "_id",
        "_limit",
        "_pending",
        "_pending_len",
        "_size",
    )

    def __init__(self, *, max_event_bytes: int = MAX_SSE_EVENT_BYTES) -> None:
        self._limit = max_event_bytes
        self._pending: list[bytes] = []  # the start of a line whose terminator has not come
        self._pending_len = 0
        self._after_cr = False  # the last byte was \r: a \n next is the same terminator
        self._event = ""
        self._data: list[str] = []
        self._size = 0  # bytes of data in the event being read
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._after_cr:
            self._after_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if not chunk:
            return []
        lines = chunk.splitlines(keepends=True)  # \n, \r and \r\n only, for bytes
        last = lines[-1]
        self._after_cr = last[-1:] == b"\r"
        tail = b"" if last[-1:] in (b"\n", b"\r") else lines.pop()
        events: list[SSEEvent] = []
        for line in lines:
            if self._pending:
                self._pending.append(line)
                line = b"".join(self._pending)
                self._pending, self._pending_len = [], 0
            elif line in _BLANK and not (self._data or self._event):
                continue  # nothing to dispatch: the common run of blank lines costs nothing
            if len(line) > self._limit and len(line.rstrip(b"\r\n")) > self._limit:
                raise self._too_long("line")
            if line[:1] == b":":
                continue  # a comment (a heartbeat): never decoded
            event = self._line(line.rstrip(b"\r\n").decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
        if tail:
            self._pending_len += len(tail)
            if self._pending_len > self._limit:
                raise self._too_long("line")
            self._pending.append(tail)
        return events

    def flush(self) -> list[SSEEvent]:
        """Events still pending when the stream ends (a last line without its blank line)."""
        events: list[SSEEvent] = []
        if self._pending:
            rest = b"".join(self._pending)
            self._pending, self._pending_len = [], 0
            event = self._line(rest.decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
        event = self._line("")
        if event is not None:
            events.append(event)
        return events

    def _too_long(self, what: str) -> SSEError:
        self._pending, self._pending_len, self._data = [], 0, []
        return SSEError(
            f"The Space's event stream sent a {what} longer than {self._limit} bytes "
            "(max_event_bytes)."
        )

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            if not self._data and not self._event:
                return None
            event = SSEEvent(self._event or "message", "\n".join(self._data), self._id)
            self._event, self._data, self._size = "", [], 0
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._size += len(value) + 1
            if self._size > self._limit:
                raise self._too_long("event")
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None
