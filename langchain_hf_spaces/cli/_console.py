"""What the user sees along the way: stdout/stderr, one-line errors, progress lines, logging.

Results go to stdout; questions, progress and errors to stderr. The wake progress line and the
batch progress bar are drawn by hand (redrawn in place on a terminal, one line per update
otherwise).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

from langchain_hf_spaces import WaitEvent
from langchain_hf_spaces.errors import HFSpacesError

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROG",
    "Console",
    "ProgressBar",
    "UsageError",
    "WaitProgress",
    "error_line",
    "setup_logging",
    "wait_line",
    "wait_progress",
]

EXIT_OK = 0
"""Everything worked."""
EXIT_FAILED = 1
"""A Space failed, or ``doctor`` found a failure."""
EXIT_USAGE = 2
"""Bad arguments or bad settings."""
EXIT_INTERRUPTED = 130

PROG = "hf-spaces"
_LOGGER = "langchain_hf_spaces"


class UsageError(Exception):
    """A usage or settings problem found by the command itself (exit code 2)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class Console:
    """stdout for results, stderr for everything a human reads along the way."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err

    @property
    def live(self) -> bool:
        """True when stderr is a terminal (progress lines are redrawn in place)."""
        isatty = getattr(self.err, "isatty", None)
        return bool(isatty and isatty())

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def note(self, text: str = "") -> None:
        self.err.write(text + "\n")
        self.err.flush()

    def error(self, message: str, hint: str | None) -> None:
        self.err.write(f"error: {message}\n")
        if hint:
            self.err.write(f"hint: {hint}\n")
        self.err.flush()


def error_line(exc: HFSpacesError) -> str:
    where = []
    if exc.tier is not None:
        where.append(f"tier {exc.tier!r}")
    if exc.url is not None:
        where.append(f"Space {exc.url}")
    return f"[{', '.join(where)}] {exc.message}" if where else exc.message


class WaitProgress:
    """Draws the client's wait events (its ``on_wait`` callback) as a progress line on stderr.

    A waking Space: ``  base: the Space is waking up: 14s elapsed of wake_timeout=300s``,
    redrawn in place every half second on a terminal (elapsed time ticking), otherwise one
    line per poll. A retry: ``  base: rate limited, retry 1/2 in 0.5s`` (or the failure, such
    as ``HTTP 503``, instead of "rate limited"). A place in the Space's queue: its position.
    Safe to call from any thread.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self._lock = threading.Lock()
        self._state: tuple[WaitEvent, float] | None = None  # the last event, when it began
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __call__(self, event: WaitEvent) -> None:
        started = time.monotonic() - event.elapsed
        with self._lock:
            self._state = (event, started)
        if not self.console.live:
            self.console.note(self._line())
            return
        self._draw()
        if event.reason in _TICKING and self._ticker is None:
            self._stop.clear()
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

    def _line(self) -> str:
        with self._lock:
            if self._state is None:
                return ""
            event, started = self._state
        return wait_line(event, time.monotonic() - started)

    def _draw(self) -> None:
        line = self._line()
        with self._lock:
            self.console.err.write("\r\x1b[2K" + line)
            self.console.err.flush()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            self._draw()

    def finish(self) -> None:
        """End the progress line (call when the request that waited is over)."""
        ticker = self._ticker
        if ticker is not None:
            self._stop.set()
            ticker.join(1.0)
            self._ticker = None
        with self._lock:
            was_waiting = self._state is not None
            self._state = None
        if was_waiting and self.console.live:
            self.console.err.write("\r\x1b[2K")
            self.console.err.flush()


_TICKING = ("waking", "queued")
"""Waits whose line shows a running clock (redrawn on a terminal)."""


def wait_line(event: WaitEvent, elapsed: float) -> str:
    """The progress line for one wait event, ``elapsed`` seconds into that kind of wait."""
    who = event.tier or event.url
    if event.reason == "waking":
        budget = "" if event.budget is None else f" of wake_timeout={event.budget:.0f}s"
        return f"  {who}: the Space is waking up: {elapsed:.0f}s elapsed{budget}"
    if event.reason == "queued":
        where = f" ({event.detail})" if event.detail else ""
        return f"  {who}: waiting in the Space's queue{where}: {elapsed:.0f}s elapsed"
    why = "rate limited" if event.reason == "rate_limited" else event.detail or "failed"
    of = "" if event.max_attempts is None else f"/{event.max_attempts}"
    return f"  {who}: {why}, retry {event.attempt}{of} in {event.delay:.1f}s"


@contextlib.contextmanager
def wait_progress(console: Console) -> Iterator[WaitProgress]:
    """A :class:`WaitProgress` to pass as ``on_wait``; its line is ended on the way out."""
    progress = WaitProgress(console)
    try:
        yield progress
    finally:
        progress.finish()


class _Quiet(logging.Handler):
    """Keeps the package's warnings off stderr (Python's last-resort handler) by default."""

    def emit(self, record: logging.LogRecord) -> None:
        pass


def setup_logging(debug: bool, console: Console) -> list[tuple[logging.Logger, logging.Handler]]:
    logger = logging.getLogger(_LOGGER)
    added: list[tuple[logging.Logger, logging.Handler]] = []
    if debug:
        handler: logging.Handler = logging.StreamHandler(console.err)
        handler.setFormatter(logging.Formatter("debug: %(name)s: %(message)s"))
        logger.setLevel(logging.DEBUG)
        httpx_logger = logging.getLogger("httpx")
        httpx_logger.setLevel(logging.INFO)
        httpx_logger.addHandler(handler)
        added.append((httpx_logger, handler))
    else:
        handler = _Quiet()
    logger.addHandler(handler)
    added.append((logger, handler))
    return added


class ProgressBar:
    """``[########..........]  12/40  30%  1 failed  3.2s`` on stderr, drawn by hand."""

    WIDTH = 30

    def __init__(self, console: Console, total: int, *, enabled: bool) -> None:
        self.console = console
        self.total = total
        self.enabled = enabled
        self.live = enabled and console.live
        self.started = time.monotonic()
        self.done = 0
        self.failed = 0
        self.detail: Callable[[], str] | None = None
        """More to show after the counts (a batch's goodput, limit, queue waits, retries)."""

    def line(self) -> str:
        frac = self.done / self.total if self.total else 1.0
        filled = int(frac * self.WIDTH)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        elapsed = time.monotonic() - self.started
        extra = f"  {self.detail()}" if self.detail is not None else ""
        return (
            f"[{bar}] {self.done}/{self.total} {frac * 100:3.0f}%  "
            f"{self.failed} failed  {elapsed:.1f}s{extra}"
        )

    def advance(self, failed: bool) -> None:
        self.done += 1
        self.failed += int(failed)
        if self.live:
            self.console.err.write("\r\x1b[2K" + self.line())
            self.console.err.flush()

    def close(self) -> None:
        if self.enabled:
            prefix = "\r\x1b[2K" if self.live else ""
            self.console.err.write(prefix + self.line() + "\n")
            self.console.err.flush()
