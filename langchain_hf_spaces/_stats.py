"""In-process usage statistics: :class:`SpacesStats`, an observer every ``SpacesClient`` keeps.

For users without a tracing backend: ``spaces.stats()`` gives a :class:`StatsSnapshot`, one
:class:`TierStats` per (tier, variant): calls, errors by kind, latency percentiles, time spent
waiting for Spaces to wake, retries, tokens in and out, cache hits and misses.

Latency percentiles (nearest rank) are exact over a bounded reservoir: a uniform random sample
(reservoir sampling, "Algorithm R") of at most ``reservoir`` latencies per (tier, variant), 1024
by default. Up to that many calls they are exact; past it they are the
percentiles of a uniform sample of all calls, so memory stays bounded. Latency is the time from
the call's start to its end as the caller saw it (probing, waits and retries included); answers
from the response cache and streams left early are counted but not timed.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_hf_spaces._answers import SpaceAnswer
from langchain_hf_spaces._observe import CallStart
from langchain_hf_spaces._policy import WaitEvent

__all__ = ["SpacesStats", "StatsSnapshot", "TierStats"]

RETRY_REASONS = frozenset({"retrying", "rate_limited"})
DEFAULT_RESERVOIR = 1024


@dataclass(frozen=True, slots=True)
class TierStats:
    """The statistics of one (tier, variant)."""

    tier: str
    variant: str | None = None
    calls: int = 0
    """Calls ended (answered, failed or abandoned), cache hits included."""
    errors: dict[str, int] = field(default_factory=dict)
    """Failed calls by the error's class name (``SpaceUnavailableError``...)."""
    abandoned: int = 0
    """Streams the caller stopped reading before the end."""
    latency_p50: float | None = None
    """Seconds (``None`` before any timed call)."""
    latency_p95: float | None = None
    latency_p99: float | None = None
    timed: int = 0
    """Calls the latency percentiles are over (all timed calls, or the reservoir's sample)."""
    wake_seconds: float = 0.0
    """Seconds spent waiting for a sleeping or building Space to wake (``WaitEvent`` reason
    ``"waking"``)."""
    retries: int = 0
    """Waits before another attempt: after a connect error or 5xx, and rate limits."""
    prompt_tokens: int = 0
    """Tokens in, as the Spaces reported them."""
    completion_tokens: int = 0
    """Tokens out."""
    cache_hits: int = 0
    cache_misses: int = 0
    """Calls the response cache was asked for and could not answer."""

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "variant": self.variant,
            "calls": self.calls,
            "errors": dict(self.errors),
            "abandoned": self.abandoned,
            "latency_p50": self.latency_p50,
            "latency_p95": self.latency_p95,
            "latency_p99": self.latency_p99,
            "timed": self.timed,
            "wake_seconds": self.wake_seconds,
            "retries": self.retries,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
        }


_FIELDS = tuple(TierStats.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """Statistics at one moment, one row per (tier, variant), sorted."""

    rows: tuple[TierStats, ...] = ()

    def get(self, tier: str, variant: str | None = None) -> TierStats | None:
        """The row of ``tier`` (and ``variant``), if it had calls."""
        for row in self.rows:
            if row.tier == tier and row.variant == variant:
                return row
        return None

    @property
    def calls(self) -> int:
        return sum(r.calls for r in self.rows)

    def as_dict(self) -> dict[str, Any]:
        """JSON data: ``{"version": 1, "rows": [...]}``."""
        return {"version": 1, "rows": [r.as_dict() for r in self.rows]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StatsSnapshot:
        """The snapshot :meth:`as_dict` gave (e.g. read back from a batch's stats file)."""
        rows = data.get("rows") if isinstance(data, Mapping) else None
        if not isinstance(rows, list):
            raise ValueError("not a stats snapshot: no 'rows' list")
        out = []
        for row in rows:
            if not isinstance(row, Mapping) or not isinstance(row.get("tier"), str):
                raise ValueError("not a stats snapshot: a row without a 'tier'")
            out.append(TierStats(**{k: v for k, v in row.items() if k in _FIELDS}))
        return cls(tuple(out))

    def table(self) -> str:
        """A text table, one line per (tier, variant), then the errors by kind."""
        if not self.rows:
            return "No calls recorded."
        head = (
            "tier", "variant", "calls", "errors", "p50 ms", "p95 ms", "p99 ms",
            "waking s", "retries", "tokens in", "tokens out", "cache hit/miss",
        )  # fmt: skip
        lines = [head]
        for r in self.rows:
            lines.append(
                (
                    r.tier,
                    r.variant or "-",
                    str(r.calls),
                    str(r.error_count),
                    _ms(r.latency_p50),
                    _ms(r.latency_p95),
                    _ms(r.latency_p99),
                    f"{r.wake_seconds:.1f}",
                    str(r.retries),
                    str(r.prompt_tokens),
                    str(r.completion_tokens),
                    f"{r.cache_hits}/{r.cache_misses}",
                )
            )
        widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
        text = [
            "  ".join(
                cell.ljust(w) if i < 2 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
            for line in lines
        ]
        for r in self.rows:
            for kind, count in sorted(r.errors.items()):
                where = r.tier if r.variant is None else f"{r.tier}/{r.variant}"
                text.append(f"{where}: {count} x {kind}")
            if r.abandoned:
                where = r.tier if r.variant is None else f"{r.tier}/{r.variant}"
                text.append(f"{where}: {r.abandoned} stream(s) left early")
        return "\n".join(text)

    def __str__(self) -> str:
        return self.table()


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def _percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return ordered[min(len(ordered), int(rank)) - 1]


class _Bucket:
    __slots__ = (
        "abandoned",
        "cache_hits",
        "cache_misses",
        "calls",
        "completion_tokens",
        "errors",
        "prompt_tokens",
        "retries",
        "sample",
        "timed",
        "wake_seconds",
    )

    def __init__(self) -> None:
        self.calls = 0
        self.errors: dict[str, int] = {}
        self.abandoned = 0
        self.sample: list[float] = []
        self.timed = 0
        self.wake_seconds = 0.0
        self.retries = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cache_hits = 0
        self.cache_misses = 0


class SpacesStats:
    """Counts calls per (tier, variant); a :class:`~langchain_hf_spaces._observe.CallObserver`.

    Args:
        reservoir: how many latencies are kept per (tier, variant) for the percentiles.

    Thread-safe. ``SpacesClient`` keeps one (``spaces.stats()``); give one to
    ``SpaceClient(config, observers=[stats])`` to count a single Space's calls.
    """

    def __init__(self, reservoir: int = DEFAULT_RESERVOIR) -> None:
        if isinstance(reservoir, bool) or not isinstance(reservoir, int) or reservoir < 1:
            raise ValueError(f"reservoir={reservoir!r} must be an int >= 1")
        self.reservoir = reservoir
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str | None], _Bucket] = {}
        self._random = random.Random(0)

    def __repr__(self) -> str:
        return f"SpacesStats(calls={self.snapshot().calls})"

    # Copies start empty (what was counted belongs to the original).
    def __getstate__(self) -> dict[str, Any]:
        return {"reservoir": self.reservoir}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.__init__(state["reservoir"])  # type: ignore[misc]

    def start(self, call: CallStart) -> _StatsScope:
        return _StatsScope(self, call)

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()

    def _record(
        self,
        call: CallStart,
        answer: SpaceAnswer | None,
        error: BaseException | None,
        seconds: float,
        wake: float,
        retries: int,
    ) -> None:
        key = (call.tier, call.variant)
        with self._lock:
            b = self._buckets.get(key)
            if b is None:
                b = self._buckets[key] = _Bucket()
            b.calls += 1
            b.wake_seconds += wake
            b.retries += retries
            cached = answer is not None and answer.cached
            if call.cache_lookup:
                if cached:
                    b.cache_hits += 1
                else:
                    b.cache_misses += 1
            if error is not None:
                kind = type(error).__name__
                b.errors[kind] = b.errors.get(kind, 0) + 1
            elif answer is None:
                b.abandoned += 1
                return
            if answer is not None:
                b.prompt_tokens += answer.prompt_tokens or 0
                b.completion_tokens += answer.completion_tokens or 0
            if cached:
                return
            b.timed += 1
            if len(b.sample) < self.reservoir:
                b.sample.append(seconds)
            else:
                j = self._random.randrange(b.timed)
                if j < self.reservoir:
                    b.sample[j] = seconds

    def snapshot(self) -> StatsSnapshot:
        """The statistics now."""
        with self._lock:
            items = [(k, b, sorted(b.sample)) for k, b in self._buckets.items()]
            rows = [
                TierStats(
                    tier=tier,
                    variant=variant,
                    calls=b.calls,
                    errors=dict(b.errors),
                    abandoned=b.abandoned,
                    latency_p50=_percentile(ordered, 50),
                    latency_p95=_percentile(ordered, 95),
                    latency_p99=_percentile(ordered, 99),
                    timed=b.timed,
                    wake_seconds=b.wake_seconds,
                    retries=b.retries,
                    prompt_tokens=b.prompt_tokens,
                    completion_tokens=b.completion_tokens,
                    cache_hits=b.cache_hits,
                    cache_misses=b.cache_misses,
                )
                for (tier, variant), b, ordered in items
            ]
        rows.sort(key=lambda r: (r.tier, r.variant or ""))
        return StatsSnapshot(tuple(rows))


class _StatsScope:
    __slots__ = ("_call", "_owner", "_retries", "_started", "_wake")

    def __init__(self, owner: SpacesStats, call: CallStart) -> None:
        self._owner = owner
        self._call = call
        self._started = time.perf_counter()
        self._wake = 0.0
        self._retries = 0

    def on_wait(self, event: WaitEvent) -> None:
        if event.reason == "waking":
            self._wake += event.delay
        elif event.reason in RETRY_REASONS:
            self._retries += 1

    def on_first_chunk(self) -> None:
        return None

    def end(self, answer: SpaceAnswer | None, error: BaseException | None) -> None:
        seconds = time.perf_counter() - self._started
        self._owner._record(self._call, answer, error, seconds, self._wake, self._retries)
