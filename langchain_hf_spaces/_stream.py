"""Reading an answer stream without I/O: bytes in, text deltas out.

:class:`StreamReader` owns the SSE decoder, the protocol's stream parser, the size cap and the
count of chunks passed on; the call flow feeds it what the drivers read, so a stream is read the
same way by the sync and the async client. Its errors are plain: :class:`StreamCut` for a stream
that ended early, broke or grew past the cap (the flow turns it into ``SpaceConnectionError``)
and the protocol's :class:`~langchain_hf_spaces.protocols.ProtocolError` (also for a line or an
event past the decoder's cap, which becomes ``SpaceResponseError``).

Decoding is linear in the bytes read, however they are chunked: ``benchmarks/sse_decoding.py``
measures it on adversarial streams (a megabyte of blank lines, one huge line).
"""

from __future__ import annotations

from langchain_hf_spaces._constants import DEFAULT_MAX_RESPONSE_BYTES, MAX_SSE_EVENT_BYTES
from langchain_hf_spaces.protocols import (
    Generation,
    ProtocolError,
    SSEDecoder,
    SSEEvent,
    StreamParser,
)
from langchain_hf_spaces.protocols._sse import SSEError

__all__ = ["StreamCut", "StreamReader"]


class StreamCut(Exception):
    """The stream cannot give a whole answer; ``chunks`` text chunks were passed on before."""

    def __init__(self, chunks: int, reason: str) -> None:
        self.chunks = chunks
        self.reason = reason
        super().__init__(reason)


class StreamReader:
    """Feed it the bytes of one event stream; it returns the new text of each piece."""

    __slots__ = ("_cap", "_decoder", "_parser", "_total", "chunks")

    def __init__(self, parser: StreamParser, *, max_bytes: int) -> None:
        self._parser = parser
        # A larger answer cap (set by the user) raises the per-event cap with it.
        event_cap = max_bytes if max_bytes > DEFAULT_MAX_RESPONSE_BYTES else MAX_SSE_EVENT_BYTES
        self._decoder = SSEDecoder(max_event_bytes=event_cap)
        self._cap = max_bytes
        self._total = 0
        self.chunks = 0
        """Text chunks passed on so far."""

    @property
    def done(self) -> bool:
        """Whether the protocol's final event arrived (nothing more needs reading)."""
        return self._parser.done

    def feed(self, data: bytes) -> list[str]:
        """The text deltas in ``data`` (stops at the final event; later bytes are ignored)."""
        self._total += len(data)
        if self._total > self._cap:
            raise StreamCut(self.chunks, f"larger than max_response_bytes={self._cap}")
        return self._take(self._decode(data))

    def end(self) -> list[str]:
        """The stream ended: the deltas of what was still buffered. Raises if it was cut."""
        parser = self._parser
        deltas = [] if parser.done else self._take(self._decode(None))
        if not (parser.done or parser.complete_at_eof()):
            raise StreamCut(self.chunks, "the stream ended before its final event")
        return deltas

    def _decode(self, data: bytes | None) -> list[SSEEvent]:
        """The decoder's events for ``data`` (``None``: the end), its limits as typed errors."""
        try:
            return self._decoder.flush() if data is None else self._decoder.feed(data)
        except SSEError as exc:
            raise ProtocolError(str(exc)) from None

    def _take(self, events: list[SSEEvent]) -> list[str]:
        """The parser's text for each event, up to its final one."""
        deltas: list[str] = []
        parser = self._parser
        for event in events:
            delta = parser.feed(event)
            if delta:
                self.chunks += 1
                deltas.append(delta)
            if parser.done:
                break
        return deltas

    def notices(self) -> list[str]:
        """Progress the stream reported (a queue position), since last asked."""
        return self._parser.notices()

    def broken(self, detail: str) -> StreamCut:
        """The error for a transport failure mid-stream."""
        return StreamCut(self.chunks, detail)

    def result(self) -> Generation:
        """The whole answer (after :attr:`done`, or after :meth:`end`)."""
        return self._parser.result()
