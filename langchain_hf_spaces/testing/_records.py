"""What a :class:`~langchain_hf_spaces.testing.LocalSpace` remembers: the requests it received,
the faults queued for it, whether it sleeps, how busy it is (stdlib only)."""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from langchain_hf_spaces.testing._faults import Fault, SleepForm

__all__ = ["QueuedFault", "RecordedRequest", "SpaceState"]

_SENSITIVE_HEADERS = frozenset({"authorization", "x-hf-authorization", "cookie", "x-api-key"})


@dataclass(frozen=True, repr=False)
class RecordedRequest:
    """One request as the Space received it (recorded before it was answered).

    ``headers`` has lower-case keys (repeated headers are joined with ``", "``) and holds the
    real values, including ``authorization``; ``repr()`` redacts credentials so that a failing
    assertion does not print a token.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    """The body parsed as JSON, or ``None`` when it is empty or not JSON."""
    timestamp: float = 0.0
    """``time.monotonic()`` when the request was recorded (for backoff timing tests)."""
    fault: Fault | None = None
    """The injected fault this request received, if any."""
    stream: bool = False
    """True for streaming requests (``/generate_stream``, chat with ``"stream": true``)."""

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        shown = {
            key: ("<redacted>" if key in _SENSITIVE_HEADERS else value)
            for key, value in self.headers.items()
        }
        query = f"?{self.query}" if self.query else ""
        fault = f", fault={self.fault!r}" if self.fault is not None else ""
        body = self.body if len(self.body) <= 200 else self.body[:200] + b"..."
        return (
            f"RecordedRequest({self.method} {self.path}{query}, headers={shown!r}, "
            f"body={body!r}{fault})"
        )


@dataclass
class QueuedFault:
    """A fault waiting in :attr:`SpaceState.faults` (``remaining=None``: forever)."""

    fault: Fault
    remaining: int | None
    path: str | None


@dataclass
class SpaceState:
    """Everything a :class:`LocalSpace` shares between the caller's thread and the server's."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: deque[QueuedFault] = field(default_factory=deque)
    sleep_until: float = 0.0
    sleep_form: SleepForm = "html"
    in_flight: int = 0
    peak_in_flight: int = 0

    def take_fault(self, path: str, streaming: bool) -> Fault | None:
        """The first queued fault that applies to this request (and count it as used)."""
        with self.lock:
            for queued in self.faults:
                if queued.path is not None and queued.path != path:
                    continue
                if queued.fault.streaming_only and not streaming:
                    continue
                if queued.remaining is not None:
                    queued.remaining -= 1
                    if queued.remaining <= 0:
                        self.faults.remove(queued)
                return queued.fault
        return None

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(request)

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        """Count the request as in flight while the block runs."""
        with self.lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self.lock:
                self.in_flight -= 1
