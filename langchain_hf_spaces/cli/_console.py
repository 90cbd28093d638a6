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
from collections.abc import Iterator
from typing import TextIO

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
_WAKE_MESSAGE = "Space %s (tier %s) is waking up"


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


class WaitProgress(logging.Handler):
    """Turns the core's "is waking up" warnings into a progress line on stderr.

    On a terminal the line is redrawn in place every half second (elapsed time ticking);
    otherwise one line is written per poll.
    """

    def __init__(self, console: Console) -> None:
        super().__init__(level=logging.WARNING)
        self.console = console
        self._lock = threading.Lock()
        self._state: tuple[str, float, float] | None = None  # tier, started, wake_timeout
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if not isinstance(record.msg, str) or not record.msg.startswith(_WAKE_MESSAGE):
            return
        args = record.args
        if not isinstance(args, tuple) or len(args) != 4:
            return
        _url, tier, elapsed, timeout = args
        if not isinstance(elapsed, (int, float)) or not isinstance(timeout, (int, float)):
            return
        started = time.monotonic() - float(elapsed)
        with self._lock:
            self._state = (str(tier), started, float(timeout))
        if self.console.live:
            self._draw()
            if self._ticker is None:
                self._stop.clear()
                self._ticker = threading.Thread(target=self._tick, daemon=True)
                self._ticker.start()
        else:
            self.console.note(self._line())

    def _line(self) -> str:
        with self._lock:
            if self._state is None:
                return ""
            tier, started, timeout = self._state
        elapsed = time.monotonic() - started
        return (
            f"  {tier}: the Space is waking up: {elapsed:.0f}s elapsed "
            f"of wake_timeout={timeout:.0f}s"
        )

    def _draw(self) -> None:
        self.console.err.write("\r\x1b[2K" + self._line())
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
            was_waking = self._state is not None
            self._state = None
        if was_waking and self.console.live:
            self.console.err.write("\r\x1b[2K")
            self.console.err.flush()


@contextlib.contextmanager
def wait_progress(console: Console) -> Iterator[WaitProgress]:
    handler = WaitProgress(console)
    logger = logging.getLogger(_LOGGER)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        handler.finish()
        logger.removeHandler(handler)


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

    def line(self) -> str:
        frac = self.done / self.total if self.total else 1.0
        filled = int(frac * self.WIDTH)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        elapsed = time.monotonic() - self.started
        return (
            f"[{bar}] {self.done}/{self.total} {frac * 100:3.0f}%  "
            f"{self.failed} failed  {elapsed:.1f}s"
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
