"""A Server-Sent Events decoder for bytes, incremental and I/O-free (WHATWG rules)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SSEDecoder", "SSEEvent"]


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str
    data: str
    id: str | None = None


class SSEDecoder:
    """Feed bytes as they arrive; get complete events back.

    >>> d = SSEDecoder()
    >>> d.feed(b"event: generating\\ndata: [\\"he")
    []
    >>> d.feed(b"llo\\"]\\n\\n")
    [SSEEvent(event='generating', data='["hello"]', id=None)]
    """

    __slots__ = ("_buffer", "_data", "_event", "_id")

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        self._buffer += chunk
        events: list[SSEEvent] = []
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                break
            end, skip = cut
            raw = self._buffer[:end]
            self._buffer = self._buffer[end + skip :]
            event = self._line(raw.decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[SSEEvent]:
        """Events still pending when the stream ends (a last line without its blank line)."""
        events: list[SSEEvent] = []
        rest = self._buffer.rstrip(b"\r\n")
        if rest:
            event = self._line(rest.decode("utf-8", "replace"))
            self._buffer = b""
            if event is not None:
                events.append(event)
        event = self._line("")
        if event is not None:
            events.append(event)
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            if not self._data and not self._event:
                return None
            event = SSEEvent(self._event or "message", "\n".join(self._data), self._id)
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None


def _line_end(buffer: bytes) -> tuple[int, int] | None:
    """Position and length of the first line terminator (\\r\\n, \\n or \\r)."""
    n = buffer.find(b"\n")
    r = buffer.find(b"\r")
    if r == -1 and n == -1:
        return None
    if r == -1 or (n != -1 and n < r):
        return n, 1
    if r + 1 == len(buffer):
        return None  # might be \r\n split across chunks
    return (r, 2) if buffer[r + 1 : r + 2] == b"\n" else (r, 1)
