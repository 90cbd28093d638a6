"""The adaptive concurrency limit of one Space: pure logic, no I/O, an injected clock.

A Space serves a few requests at a time (a Gradio app's ``concurrency_limit`` and queue
``max_size``, TGI's ``max_concurrent_requests``); past that it queues them (latency grows) or
refuses them (Gradio's 503 "Queue is full", TGI's 429 ``error_type: overloaded``). A batch asks
:class:`Limiter` for a :class:`Permit` before each attempt and hands it back with what came of
it; the limit moves with those signals:

- **AIMD on overload** (as TCP and Netflix's ``AIMDLimit``): an overload answer cuts the limit to
  ``backoff`` (0.9) times the smaller of the limit and the number of calls that were in flight
  when the refused one was let through (so a burst far past the capacity lands near it at
  once); at most once per window: answers to calls let through before the last cut do not cut
  again. Each success adds ``1 / limit`` (about one per round trip).
- **A Vegas-style latency brake** (as Netflix's ``VegasLimit``/``Gradient2Limit``): latency is
  smoothed (EWMA) and compared with the lowest smoothed latency seen (the no-load latency, slowly
  forgotten). Above ``brake_above`` (2x: the Space queues as many calls as it runs), for a call
  sent with more calls in flight than when the no-load latency was seen (slower at the same
  concurrency is the work itself, e.g. longer answers, not queueing), the limit is cut like an
  overload; growth happens only below ``grow_below`` (1.5x) and while the limit is
  in use (in flight >= limit / 2), so an idle limit does not climb.

Why AIMD plus a brake rather than Gradient2 alone: a Space's clearest signal is a refusal (TGI
never queues past ``max_concurrent_requests``, so its latency stays flat until the 429), while a
Gradio queue shows up as latency long before it is full; the brake keeps calls out of the Space's
queue (other users wait there too), the AIMD part finds hard limits. Netflix's Gradient2 needs a
steady request rate to track its long-term average, which a batch that starts and stops has not.

The limit is bounded by ``floor`` (1) and ``ceiling`` (the Space's own figure when it publishes
one, else :data:`DEFAULT_LIMIT_CEILING`); each batch is a :class:`Group` with its own cap
(``max_concurrency``). ``adaptive=False`` pins the limit. One limiter per Space origin is shared
by all batches of the process (:func:`limiter_for`); it is thread-safe, and waiting is left to
the drivers (``_batch``): :meth:`Limiter.acquire_or_wait` either grants a permit or queues a
waiter whose ``wake`` is called (outside the lock) once a permit was handed to it.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from langchain_hf_spaces._policy import Deadline, backoff
from langchain_hf_spaces.config import SpaceConfig
from langchain_hf_spaces.errors import SpaceQuotaError, SpaceRateLimitError

__all__ = [
    "DEFAULT_BATCH_MAX_CONCURRENCY",
    "DEFAULT_LIMIT_CEILING",
    "Attempt",
    "Group",
    "Limiter",
    "LimiterSettings",
    "Permit",
    "SpaceHint",
    "Waiter",
    "current_attempt",
    "gave_up",
    "is_overload",
    "limiter_for",
    "overload_wait",
    "tgi_hint",
]

DEFAULT_BATCH_MAX_CONCURRENCY = 64
"""A batch's cap when the caller names no ``max_concurrency`` (also what ``adaptive=False``
pins the limit at then)."""
DEFAULT_LIMIT_CEILING = 64
"""Where a Space's limit starts and what bounds it when the Space publishes no capacity."""

Outcome = Literal["ok", "overload", "error"]
"""What came of a permit's call: an answer (a latency sample), an overload answer (queue full,
429, 503 overloaded), or anything else (neither grows nor cuts the limit)."""


@dataclass(frozen=True, slots=True)
class LimiterSettings:
    """The knobs of :class:`Limiter` (defaults documented in the module docstring)."""

    backoff: float = 0.9
    brake_above: float = 2.0
    grow_below: float = 1.5
    smoothing: float = 0.2
    probe: float = 0.1
    """Growth is this much slower once the limit nears where the last overload answer came
    (the Space's hard bound, most likely): it is probed again now and then, not every window."""
    forget: float = 0.0002
    """How fast the no-load latency drifts up to the smoothed one (per answer): a Space that
    became slower for good is learnt again (half-life about 3,500 answers)."""


@dataclass(slots=True)
class Group:
    """One batch: at most ``cap`` of its calls in flight, whatever the Space's limit."""

    cap: int
    inflight: int = 0


@dataclass(frozen=True, slots=True)
class Permit:
    """Leave to send one call: hand it back with :meth:`Limiter.release`."""

    seq: int
    started: float
    inflight: int
    """Calls in flight once this one was let through (itself included)."""
    group: Group


@dataclass(eq=False, slots=True)
class Waiter:
    """A call waiting for a permit; ``wake`` is called once :attr:`permit` is set."""

    group: Group
    wake: Callable[[], None]
    permit: Permit | None = None


@dataclass(frozen=True, slots=True)
class SpaceHint:
    """What a Space says of its capacity: where to start, and a bound never to pass."""

    initial: int | None = None
    ceiling: int | None = None
    source: str = ""


class Limiter:
    """An adaptive (or pinned) concurrency limit for one Space; see the module docstring."""

    def __init__(
        self,
        *,
        initial: int | None = None,
        ceiling: int | None = None,
        adaptive: bool = True,
        clock: Callable[[], float] = time.monotonic,
        settings: LimiterSettings | None = None,
    ) -> None:
        self.adaptive = adaptive
        self.clock = clock
        self.settings = settings or LimiterSettings()
        self.floor = 1
        self.ceiling = max(1, ceiling if ceiling is not None else DEFAULT_LIMIT_CEILING)
        start = initial if initial is not None else self.ceiling
        self._limit = float(max(self.floor, min(start, self.ceiling)))
        self.inflight = 0
        self._seq = 0
        self._cut_at = 0
        """Permits up to this sequence number were let through before the last cut."""
        self._overloaded_at: float | None = None
        """Calls in flight when the last overload answer came."""
        self._smooth: float | None = None
        self._base: float | None = None
        self._base_inflight = 0
        """Calls in flight when the no-load latency was seen."""
        self.samples = 0
        self.overloads = 0
        self.cuts = 0
        self.hint: SpaceHint | None = None
        self._waiters: deque[Waiter] = deque()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        mode = "adaptive" if self.adaptive else "pinned"
        return f"Limiter({mode}, limit={self.limit}, inflight={self.inflight})"

    @property
    def limit(self) -> int:
        """Calls the Space is given at once now (an integer, at least 1)."""
        return max(self.floor, math.floor(self._limit))

    @property
    def latency(self) -> tuple[float | None, float | None]:
        """The smoothed latency and the no-load latency it is compared with (seconds)."""
        return self._smooth, self._base

    def apply_hint(self, hint: SpaceHint) -> None:
        """Take what the Space says of its capacity: ``ceiling`` bounds the limit from now on;
        ``initial`` is where it starts when nothing was learnt yet (no answer so far)."""
        with self._lock:
            self.hint = hint
            if hint.ceiling is not None and hint.ceiling >= 1:
                self.ceiling = hint.ceiling
            if self.adaptive and hint.initial is not None and self.samples == 0 and not self.cuts:
                self._limit = float(max(self.floor, hint.initial))
            self._limit = min(self._limit, float(self.ceiling))
            woken = self._grant()
        _wake(woken)

    # ------------------------------------------------------------------ permits
    def try_acquire(self, group: Group) -> Permit | None:
        """A permit now, or ``None`` when the limit or the group's cap is reached."""
        with self._lock:
            if self._waiters or not self._room(group):
                return None
            return self._take(group)

    def acquire_or_wait(self, group: Group, wake: Callable[[], None]) -> Permit | Waiter:
        """A permit now, or a queued :class:`Waiter` (first come, first served) whose ``wake``
        is called once a permit is handed to it."""
        with self._lock:
            if not self._waiters and self._room(group):
                return self._take(group)
            waiter = Waiter(group, wake)
            self._waiters.append(waiter)
            woken = self._grant()  # the ones ahead may be at their batch's cap
        mine = waiter.permit if waiter in woken else None
        _wake([w for w in woken if w is not waiter])
        return mine if mine is not None else waiter

    def cancel(self, waiter: Waiter) -> None:
        """A waiter gives up (its task was cancelled): out of the queue, or its permit back."""
        with self._lock:
            if waiter.permit is None:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
                woken = self._grant()
            else:
                woken = self._free(waiter.permit, "error")
        _wake(woken)

    def release(self, permit: Permit, outcome: Outcome) -> None:
        """Hand a permit back with what came of its call; waiters are let through."""
        with self._lock:
            woken = self._free(permit, outcome)
        _wake(woken)

    # ------------------------------------------------------------------ internals (locked)
    def _room(self, group: Group) -> bool:
        return self.inflight < self.limit and group.inflight < group.cap

    def _take(self, group: Group) -> Permit:
        self._seq += 1
        self.inflight += 1
        group.inflight += 1
        return Permit(self._seq, self.clock(), self.inflight, group)

    def _grant(self) -> list[Waiter]:
        """Hand permits to waiters in order while there is room; a waiter whose batch is at its
        cap lets the ones behind it (of other batches) pass."""
        woken: list[Waiter] = []
        if not self._waiters:
            return woken
        skipped: list[Waiter] = []
        while self._waiters and self.inflight < self.limit:
            waiter = self._waiters.popleft()
            if waiter.group.inflight >= waiter.group.cap:
                skipped.append(waiter)
                continue
            waiter.permit = self._take(waiter.group)
            woken.append(waiter)
        self._waiters.extendleft(reversed(skipped))
        return woken

    def _free(self, permit: Permit, outcome: Outcome) -> list[Waiter]:
        busy = self.inflight  # this call included: how much of the limit was in use
        self.inflight = max(0, self.inflight - 1)
        permit.group.inflight = max(0, permit.group.inflight - 1)
        if self.adaptive:
            if outcome == "overload":
                self.overloads += 1
                if self._cut(permit):
                    self._overloaded_at = float(permit.inflight)
            elif outcome == "ok":
                self._sample(permit, busy)
        return self._grant()

    def _sample(self, permit: Permit, busy: int) -> None:
        s = self.settings
        rtt = max(0.0, self.clock() - permit.started)
        self.samples += 1
        smooth = rtt if self._smooth is None else self._smooth + s.smoothing * (rtt - self._smooth)
        self._smooth = smooth
        if self._base is None or smooth < self._base:
            self._base = smooth
            self._base_inflight = permit.inflight
        else:
            self._base += (smooth - self._base) * s.forget
        ratio = smooth / self._base if self._base > 0 else 1.0
        if ratio >= s.brake_above and permit.inflight > self._base_inflight:
            # Slower with more calls in flight than when it was fast: the Space is queueing
            # (slower at the same concurrency is the work itself: longer answers).
            self._cut(permit)
        elif ratio <= s.grow_below and busy * 2 >= self._limit:
            step = 1.0 / max(self._limit, 1.0)
            if self._overloaded_at is not None and self._limit + 1.0 >= self._overloaded_at:
                step *= s.probe
            self._limit = min(float(self.ceiling), self._limit + step)

    def _cut(self, permit: Permit) -> bool:
        """Cut the limit for this window (``False``: it was cut already)."""
        if permit.seq <= self._cut_at:
            return False
        used = min(self._limit, float(permit.inflight))
        self._limit = max(float(self.floor), self.settings.backoff * used)
        self._cut_at = self._seq
        self.cuts += 1
        return True


def _wake(waiters: list[Waiter]) -> None:
    for waiter in waiters:
        waiter.wake()


# ---------------------------------------------------------------------- one per Space
_LIMITERS: dict[tuple[str, str, int], Limiter] = {}
_LIMITERS_LOCK = threading.Lock()


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return parts.scheme, (parts.hostname or "").lower(), port


def limiter_for(url: str) -> Limiter:
    """The process's adaptive limiter of the Space at ``url`` (one per origin)."""
    key = _origin(url)
    limiter = _LIMITERS.get(key)
    if limiter is None:
        with _LIMITERS_LOCK:
            limiter = _LIMITERS.setdefault(key, Limiter())
    return limiter


def forget_limiters() -> None:
    """Drop every Space's learnt limit (tests; a long-lived process that wants a fresh start)."""
    with _LIMITERS_LOCK:
        _LIMITERS.clear()


# ---------------------------------------------------------------------- what Spaces say
def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return value


def tgi_hint(info: Mapping[str, Any] | None) -> SpaceHint | None:
    """TGI's ``/info``: ``max_concurrent_requests`` is a hard bound (429 past it); at most
    ``max_batch_total_tokens // max_total_tokens`` requests of the longest size fit in one
    batch at once, where the limit starts when that is lower."""
    if not isinstance(info, Mapping):
        return None
    ceiling = _positive_int(info.get("max_concurrent_requests"))
    if ceiling is None:
        return None
    initial = ceiling
    batch_tokens = _positive_int(info.get("max_batch_total_tokens"))
    per_request = _positive_int(info.get("max_total_tokens"))
    if batch_tokens is not None and per_request is not None:
        initial = max(1, min(ceiling, batch_tokens // per_request))
    return SpaceHint(initial, ceiling, "TGI /info")


# ---------------------------------------------------------------------- overload retries
def is_overload(exc: BaseException) -> bool:
    """An answer that says "busy, come back" (queue full, 429, 503 overloaded): retried by a
    batch without counting as a failure. A ZeroGPU quota is the caller's, not the Space's load."""
    return isinstance(exc, SpaceRateLimitError) and not isinstance(exc, SpaceQuotaError)


def overload_wait(
    exc: SpaceRateLimitError, config: SpaceConfig, overloads: int, left: float
) -> float | None:
    """The pause before the ``overloads``-th retry of a prompt after an overload answer, or
    ``None`` when there is no time for it.

    ``Retry-After`` is honoured up to ``max_retry_after`` (longer: give up, as single calls do);
    without one, the first retry goes straight back to the limiter's queue (the cut limit paces
    it) and later ones back off (``retry_initial_delay`` doubling up to ``retry_max_delay``).
    ``left`` is what remains of the prompt's deadline: a wait that would reach it is not begun.
    """
    if exc.retry_after is not None:
        if exc.retry_after > config.max_retry_after:
            return None
        delay = float(exc.retry_after)
    elif overloads <= 1:
        delay = 0.0
    else:
        delay = backoff(config, overloads - 2)
    if delay >= left or left <= 0:
        return None
    return delay


def gave_up(
    exc: SpaceRateLimitError,
    overloads: int,
    deadline: Deadline,
    config: SpaceConfig,
    *,
    during_try: bool = False,
) -> SpaceRateLimitError:
    """The typed error of a prompt the Space stayed too busy to answer before its deadline
    (``during_try``: the deadline ran out during the try after the last overload answer)."""
    if during_try:
        why = f"{deadline.name}={deadline.timeout:g}s ran out during the next try"
    elif exc.retry_after is not None and exc.retry_after > config.max_retry_after:
        why = (
            f"it asked to wait {exc.retry_after:g}s (Retry-After), more than "
            f"max_retry_after={config.max_retry_after:g}s"
        )
    else:
        why = f"{deadline.name}={deadline.timeout:g}s leaves no time for another try"
    return SpaceRateLimitError(
        f"The Space was still overloaded after {overloads} overload answer(s) to this prompt: "
        f"{why}. Last answer: {exc.message}",
        retry_after=exc.retry_after,
        tier=exc.tier,
        url=exc.url,
        status_code=exc.status_code,
        hint=(
            "Pass a longer timeout= (each prompt's deadline, from its first attempt), lower "
            "max_concurrency, or give the Space more capacity (its queue max_size, "
            "concurrency_limit or hardware); answered prompts are kept."
        ),
    )


# ---------------------------------------------------------------------- the batch's attempt
@dataclass(slots=True)
class Attempt:
    """One try of one prompt of a batch, seen by the call path through a context variable:
    overload answers are raised at once (the batch retries them, not the exchange), every
    request of the try works to the prompt's ``deadline``, and a wait in the Space's queue is
    noted."""

    deadline: Deadline | None
    queued: bool = False
    notes: list[str] = field(default_factory=list)


_ATTEMPT: contextvars.ContextVar[Attempt | None] = contextvars.ContextVar(
    "hf_spaces_batch_attempt", default=None
)


def current_attempt() -> Attempt | None:
    """The batch attempt the running call belongs to, if any."""
    return _ATTEMPT.get()


def enter(attempt: Attempt) -> contextvars.Token[Attempt | None]:
    return _ATTEMPT.set(attempt)


def leave(token: contextvars.Token[Attempt | None]) -> None:
    _ATTEMPT.reset(token)
