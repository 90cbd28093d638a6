"""One generation, shared by every route: stop sequences, finish reason, token counts, logs."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator

from starlette.concurrency import run_in_threadpool

from space_app.backends import Backend, Prepared
from space_app.schemas import GenerationParams

__all__ = ["Run", "StopScanner", "apieces"]

logger = logging.getLogger("space_app")


class StopScanner:
    """Cuts a stream of text at the first stop sequence, without emitting any part of it.

    Only text that could be the start of a stop sequence is held back, until it is known not
    to be; other text passes through in the pieces it came in.
    """

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.buffer = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        """Take the next piece; return the text that is now safe to pass on."""
        if self.stopped:
            return ""
        self.buffer += piece
        hits = [i for s in self.stops if (i := self.buffer.find(s)) >= 0]
        if hits:
            out = self.buffer[: min(hits)]
            self.buffer = ""
            self.stopped = True
            return out
        cut = len(self.buffer) - self._partial()
        out, self.buffer = self.buffer[:cut], self.buffer[cut:]
        return out

    def _partial(self) -> int:
        """Length of the longest end of the buffer that begins a stop sequence."""
        longest = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(self.buffer)), longest, -1):
                if self.buffer.endswith(stop[:size]):
                    longest = size
                    break
        return longest

    def flush(self) -> str:
        """The text held back when the stream ends."""
        out, self.buffer = self.buffer, ""
        return "" if self.stopped else out


class Run:
    """One generation. Pull text with :meth:`next_piece` (blocking) or :meth:`collect`.

    Afterwards: ``text``, ``finish_reason`` (``"length"``, ``"eos_token"`` or
    ``"stop_sequence"``, as TGI names them), ``prompt_tokens`` and ``generated_tokens``.
    """

    def __init__(
        self,
        backend: Backend,
        prepared: Prepared,
        params: GenerationParams,
        *,
        route: str,
        log_prompts: bool = False,
    ) -> None:
        self.params = params
        self.prompt_tokens = prepared.prompt_tokens
        self.route = route
        self.log_prompts = log_prompts
        self.text = ""
        self.finish_reason: str | None = None
        self.generated_tokens = 0
        self._prompt = prepared.text
        self._scanner = StopScanner(params.stop)
        self._started = time.perf_counter()
        logger.info(
            "%s: generating (prompt %d chars, %d tokens; max_new_tokens=%d)",
            route,
            len(prepared.text),
            prepared.prompt_tokens,
            params.max_new_tokens,
        )
        if log_prompts:
            logger.info("%s: prompt %r", route, prepared.text)
        self._stream = backend.start(prepared.inputs, params)

    def next_piece(self) -> str | None:
        """The next piece of text, or ``None`` when the answer is complete."""
        while self.finish_reason is None:
            try:
                raw = next(self._stream)
            except StopIteration:
                out = self._scanner.flush()
                self._finish()
                return self._emit(out) or None
            out = self._scanner.feed(raw)
            if self._scanner.stopped:
                self._stream.cancel()
                self._finish()
                return self._emit(out) or None
            if out:
                return self._emit(out)
        return None

    def _emit(self, text: str) -> str:
        self.text += text
        return text

    def _finish(self) -> None:
        self.generated_tokens = self._stream.generated_tokens
        if self._scanner.stopped:
            self.finish_reason = "stop_sequence"
        elif self.generated_tokens >= self.params.max_new_tokens:
            self.finish_reason = "length"
        else:
            self.finish_reason = "eos_token"
        logger.info(
            "%s: done (%d tokens, finish_reason=%s, %.0f ms)",
            self.route,
            self.generated_tokens,
            self.finish_reason,
            (time.perf_counter() - self._started) * 1000,
        )
        if self.log_prompts:
            logger.info("%s: answer %r", self.route, self.text)

    def __iter__(self) -> Iterator[str]:
        try:
            while (piece := self.next_piece()) is not None:
                yield piece
        finally:
            self.close()

    def collect(self) -> str:
        for _ in self:
            pass
        return self.text

    def close(self) -> None:
        """Stop generating if the answer is not complete (the client went away)."""
        if self.finish_reason is None:
            self._stream.cancel()


async def apieces(run: Run) -> AsyncIterator[str]:
    """The pieces of ``run``, each fetched in a worker thread (backends block)."""
    try:
        while (piece := await run_in_threadpool(run.next_piece)) is not None:
            yield piece
    finally:
        run.close()
