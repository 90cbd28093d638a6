"""The adaptive concurrency limit (``_limiter``), deterministically: a simulated Space with a
capacity and a queue, driven as a discrete-event simulation on a fake clock (no sleeping, no
sockets). Live tests against real servers are in ``test_batches.py``."""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from langchain_hf_spaces import SpaceConfig, SpaceQuotaError, SpaceRateLimitError
from langchain_hf_spaces._limiter import (
    Group,
    Limiter,
    Permit,
    SpaceHint,
    Waiter,
    is_overload,
    limiter_for,
    overload_wait,
    tgi_hint,
)
from langchain_hf_spaces._policy import Deadline

CONFIG = SpaceConfig(url="http://127.0.0.1:9", retry_initial_delay=0.05, retry_max_delay=0.4)


@dataclass
class SimSpace:
    """A Space that runs ``capacity`` calls at once, queues ``queue`` more (Gradio's
    ``max_size``; 0 = TGI, which refuses at once) and refuses the rest after ``reject``
    seconds. Each call takes ``service`` seconds (times a factor in [1, 1 + jitter))."""

    capacity: int
    queue: int
    service: float
    jitter: float = 0.0
    reject: float = 0.002


@dataclass
class Run:
    answered: int = 0
    lost: int = 0
    overloads: int = 0
    peak: int = 0
    """Most calls of the batch in flight at once (at the Space, queued there included)."""
    peak_running: int = 0
    makespan: float = 0.0
    limits: list[tuple[float, int]] = field(default_factory=list)
    busy_time: float = 0.0
    """Seconds x running slots the Space was working."""


class Simulation:
    """The batch driver's logic (``_batch.Batch.call``) on a fake clock: each prompt takes a
    permit, is sent, and on an overload answer is released as such and retried after
    :func:`overload_wait`; the Space serves in arrival order."""

    def __init__(self, space: SimSpace, limiter: Limiter, seed: int = 0) -> None:
        self.space = space
        self.limiter = limiter
        self.now = 0.0
        limiter.clock = lambda: self.now
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.running = 0
        self.waiting: deque[tuple[Permit, int]] = deque()
        self.rng = random.Random(seed)
        self.run = Run()

    def at(self, when: float, what: Callable[[], None]) -> None:
        heapq.heappush(self._events, (when, next(self._seq), what))

    # the Space
    def _arrive(self, permit: Permit, prompt: int) -> None:
        sim = self.space
        in_space = self.running + len(self.waiting)
        self.run.peak = max(self.run.peak, in_space + 1)
        if self.running < sim.capacity:
            self._start(permit, prompt)
        elif len(self.waiting) < sim.queue:
            self.waiting.append((permit, prompt))
        else:
            self.at(self.now + sim.reject, lambda: self._overloaded(permit, prompt))

    def _start(self, permit: Permit, prompt: int) -> None:
        self.running += 1
        self.run.peak_running = max(self.run.peak_running, self.running)
        took = self.space.service * (1 + self.space.jitter * self.rng.random())
        self.run.busy_time += took
        self.at(self.now + took, lambda: self._finished(permit))

    def _finished(self, permit: Permit) -> None:
        self.running -= 1
        if self.waiting:
            self._start(*self.waiting.popleft())
        self.limiter.release(permit, "ok")
        self.run.answered += 1
        self._note()

    def _overloaded(self, permit: Permit, prompt: int) -> None:
        self.run.overloads += 1
        self.limiter.release(permit, "overload")
        self._note()
        tries = self.tries[prompt] = self.tries[prompt] + 1
        exc = SpaceRateLimitError("busy", tier="base", url=CONFIG.url)
        delay = overload_wait(exc, CONFIG, tries, self.deadline - self.now)
        if delay is None:
            self.run.lost += 1
            return
        self.at(self.now + delay, lambda: self._ask(prompt))

    # the batch
    def _ask(self, prompt: int) -> None:
        def go(permit: Permit) -> None:
            self.at(self.now, lambda: self._arrive(permit, prompt))

        got = self.limiter.acquire_or_wait(self.group, lambda: go(waiter.permit))  # type: ignore[arg-type]
        if isinstance(got, Permit):
            go(got)
        else:
            waiter: Waiter = got

    def _note(self) -> None:
        self.run.limits.append((self.now, self.limiter.limit))

    def batch(self, prompts: int, cap: int, deadline: float = 1e9) -> Run:
        self.group = Group(cap)
        self.deadline = deadline
        self.tries = [0] * prompts
        self.run = Run()
        cap_seen = 0
        for prompt in range(prompts):
            self._ask(prompt)
        while self._events:
            self.now, _, what = heapq.heappop(self._events)
            what()
            cap_seen = max(cap_seen, self.group.inflight)
            assert self.group.inflight <= cap
            assert self.limiter.inflight <= max(self.limiter.limit, cap_seen)
        self.run.makespan = self.now
        return self.run

    def ideal(self, prompts: int, parallel: int) -> float:
        """The physical limit: prompts x mean latency / capacity."""
        mean = self.space.service * (1 + self.space.jitter / 2)
        return prompts * mean / parallel


def late_limits(run: Run) -> list[int]:
    """The limit over the second half of the run (after it had time to settle)."""
    half = run.makespan / 2
    return [limit for when, limit in run.limits if when >= half]


# ---------------------------------------------------------------------- convergence
def test_tgi_like_space_the_limit_converges_near_its_capacity() -> None:
    """16 slots, no queue (429 past them): from its default start (64) the limit lands near
    16, the Space stays busy (>= 0.9 of the physical rate), and no prompt is lost."""
    sim = Simulation(SimSpace(capacity=16, queue=0, service=0.1), Limiter())
    run = sim.batch(1000, cap=64)
    assert run.answered == 1000 and run.lost == 0
    late = late_limits(run)
    assert min(late) >= 14 and max(late) <= 18
    assert run.peak_running == 16
    assert sim.ideal(1000, 16) / run.makespan >= 0.9
    assert run.overloads < 150  # the burst past the capacity, then a probe now and then


def test_gradio_like_space_the_latency_brake_keeps_out_of_a_full_queue() -> None:
    """4 slots and a queue of 8 (Gradio ``concurrency_limit=4, max_size=8``): the limit
    settles between the capacity and capacity + queue, the Space stays busy."""
    sim = Simulation(SimSpace(capacity=4, queue=8, service=0.2), Limiter())
    run = sim.batch(1000, cap=64)
    assert run.answered == 1000 and run.lost == 0
    late = late_limits(run)
    assert min(late) >= 4 and max(late) <= 10  # 2x the latency at most: no full queue
    assert sim.ideal(1000, 4) / run.makespan >= 0.9


def test_a_space_with_one_slot_and_a_small_queue_loses_no_prompt() -> None:
    """The issue's case (``concurrency_limit=1, max_size=3``): 12 prompts at once, all
    answered; the limit ends low (1 or 2)."""
    sim = Simulation(SimSpace(capacity=1, queue=3, service=0.2), Limiter())
    run = sim.batch(12, cap=64)
    assert run.answered == 12 and run.lost == 0
    assert run.overloads >= 1  # the first burst was refused in part
    assert sim.limiter.limit <= 3


def test_an_unlimited_space_keeps_the_limit_at_the_cap() -> None:
    sim = Simulation(SimSpace(capacity=10_000, queue=0, service=0.25), Limiter())
    run = sim.batch(1000, cap=64)
    assert run.overloads == 0 and run.answered == 1000
    assert run.peak == 64 and min(late_limits(run)) >= 64
    assert sim.ideal(1000, 64) / run.makespan >= 0.95


def test_the_limit_grows_back_when_latency_stays_flat() -> None:
    """After a cut (here: a Space that was busy with others), answers at a flat latency let
    the limit climb again, about one per round trip."""
    limiter = Limiter(initial=2, ceiling=32)
    sim = Simulation(SimSpace(capacity=32, queue=0, service=0.1), limiter)
    run = sim.batch(600, cap=32)
    assert run.overloads == 0
    assert limiter.limit >= 24
    assert [limit for _, limit in run.limits] == sorted(limit for _, limit in run.limits)


def test_latency_growth_cuts_the_limit() -> None:
    """Answers that take twice the no-load latency (the Space queues) cut the limit."""
    now = [0.0]
    limiter = Limiter(initial=20, clock=lambda: now[0])
    group = Group(64)
    for latency in [1.0] * 5 + [3.0] * 30:
        permits = [limiter.try_acquire(group) for _ in range(limiter.limit)]
        for permit in permits:
            assert permit is not None
        now[0] += latency
        for permit in permits:
            limiter.release(permit, "ok")  # type: ignore[arg-type]
    assert limiter.cuts >= 1 and limiter.limit < 20


def test_slower_answers_at_the_same_concurrency_do_not_cut() -> None:
    """Longer answers (an LLM asked for more tokens) at the concurrency the Space was fast at
    are the work itself, not queueing: no cut."""
    now = [0.0]
    limiter = Limiter(initial=8, clock=lambda: now[0])
    group = Group(64)
    for latency in [1.0] * 5 + [5.0] * 20:
        permit = limiter.try_acquire(group)
        assert permit is not None and permit.inflight == 1
        now[0] += latency
        limiter.release(permit, "ok")
    assert limiter.cuts == 0 and limiter.limit == 8


def test_overload_cuts_once_per_window() -> None:
    """Ten refusals of calls let through together cut the limit once, to 0.9 x the calls
    in flight when the first refused one was let through."""
    limiter = Limiter(initial=20)
    group = Group(64)
    permits = [limiter.try_acquire(group) for _ in range(20)]
    assert all(permits)
    for permit in permits[10:]:
        limiter.release(permit, "overload")  # type: ignore[arg-type]
    assert limiter.cuts == 1
    assert limiter.limit == 9  # 0.9 x 11 (the first refused was the 11th in flight)
    later = limiter.try_acquire(group)
    assert later is None  # 10 still in flight, limit 9
    for permit in permits[:10]:
        limiter.release(permit, "ok")  # type: ignore[arg-type]
    again = limiter.try_acquire(group)
    assert again is not None
    limiter.release(again, "overload")  # a new window: cut again
    assert limiter.cuts == 2 and limiter.limit < 9


def test_an_error_neither_grows_nor_cuts() -> None:
    limiter = Limiter(initial=5)
    permit = limiter.try_acquire(Group(8))
    assert permit is not None
    limiter.release(permit, "error")
    assert limiter.limit == 5 and limiter.cuts == 0 and limiter.inflight == 0


# ---------------------------------------------------------------------- pinned, caps, sharing
def test_pinned_mode_keeps_its_limit_through_overloads() -> None:
    """``adaptive=False``: the limit is what was asked for; overload answers are retried
    (nothing lost) but do not move it."""
    limiter = Limiter(initial=6, ceiling=6, adaptive=False)
    sim = Simulation(SimSpace(capacity=2, queue=1, service=0.1), limiter)
    run = sim.batch(30, cap=6)
    assert run.answered == 30 and run.lost == 0 and run.overloads > 0
    assert {limit for _, limit in run.limits} == {6}
    assert run.peak <= 6


def test_batches_share_a_space_limit_each_under_its_own_cap() -> None:
    limiter = Limiter(initial=5)
    a, b = Group(2), Group(10)
    got_a = [limiter.try_acquire(a) for _ in range(3)]
    assert got_a[2] is None and a.inflight == 2
    got_b = [limiter.try_acquire(b) for _ in range(4)]
    assert got_b[3] is None and b.inflight == 3 and limiter.inflight == 5


def test_a_waiter_at_its_cap_lets_other_batches_pass() -> None:
    limiter = Limiter(initial=3)
    a, b = Group(1), Group(5)
    first = limiter.try_acquire(a)
    assert first is not None
    woken: list[str] = []
    wait_a = limiter.acquire_or_wait(a, lambda: woken.append("a"))
    assert isinstance(wait_a, Waiter)  # its batch is at its cap
    got_b = limiter.acquire_or_wait(b, lambda: woken.append("b"))
    assert isinstance(got_b, Permit)  # passes the waiter of the batch at its cap
    assert isinstance(limiter.acquire_or_wait(b, lambda: woken.append("b2")), Permit)
    wait_b = limiter.acquire_or_wait(b, lambda: woken.append("b3"))
    assert isinstance(wait_b, Waiter) and limiter.inflight == 3  # now the limit is reached
    limiter.release(first, "ok")  # a's place: its waiter is first in line
    assert woken == ["a"] and wait_a.permit is not None and wait_b.permit is None
    limiter.release(got_b, "ok")
    assert woken == ["a", "b3"] and wait_b.permit is not None


def test_a_cancelled_waiter_gives_its_place_and_its_permit_back() -> None:
    limiter = Limiter(initial=1, adaptive=False)
    group = Group(4)
    held = limiter.try_acquire(group)
    assert held is not None
    waiter = limiter.acquire_or_wait(group, lambda: None)
    assert isinstance(waiter, Waiter)
    limiter.cancel(waiter)  # still queued: just leaves
    limiter.release(held, "ok")
    assert limiter.inflight == 0
    held = limiter.try_acquire(group)
    assert held is not None
    waiter = limiter.acquire_or_wait(group, lambda: None)
    assert isinstance(waiter, Waiter)
    limiter.release(held, "ok")
    assert waiter.permit is not None and limiter.inflight == 1
    limiter.cancel(waiter)  # handed a permit, then cancelled: the permit comes back
    assert limiter.inflight == 0 and group.inflight == 0


def test_one_limiter_per_space_origin() -> None:
    a = limiter_for("https://user-app.hf.space")
    assert limiter_for("https://USER-app.hf.space:443/") is a
    assert limiter_for("http://127.0.0.1:7860") is not a


# ---------------------------------------------------------------------- what the Space says
def test_tgi_info_gives_the_start_and_the_bound() -> None:
    assert tgi_hint({"max_concurrent_requests": 16}) == SpaceHint(16, 16, "TGI /info")
    info = {
        "max_concurrent_requests": 128,
        "max_batch_total_tokens": 32768,
        "max_total_tokens": 4096,
    }
    assert tgi_hint(info) == SpaceHint(8, 128, "TGI /info")
    assert tgi_hint({"max_concurrent_requests": "many"}) is None
    assert tgi_hint(None) is None


def test_a_hint_sets_the_start_and_bounds_the_limit() -> None:
    limiter = Limiter()
    assert limiter.limit == 64
    limiter.apply_hint(SpaceHint(8, 16, "test"))
    assert limiter.limit == 8 and limiter.ceiling == 16
    sim = Simulation(SimSpace(capacity=100, queue=0, service=0.1), limiter)
    sim.batch(500, cap=64)
    assert limiter.limit == 16  # grew, never past the Space's bound


# ---------------------------------------------------------------------- overload retries
def test_overload_wait_honours_retry_after_and_the_deadline() -> None:
    busy = SpaceRateLimitError("busy", tier="base", url=CONFIG.url)
    assert overload_wait(busy, CONFIG, 1, 10.0) == 0.0  # straight back to the limiter's queue
    second = overload_wait(busy, CONFIG, 2, 10.0)
    assert second is not None and 0.025 <= second <= 0.05
    told = SpaceRateLimitError("busy", retry_after=3.0, tier="base", url=CONFIG.url)
    assert overload_wait(told, CONFIG, 1, 10.0) == 3.0
    assert overload_wait(told, CONFIG, 1, 2.0) is None  # would end past the deadline
    too_long = SpaceRateLimitError("busy", retry_after=600.0, tier="base", url=CONFIG.url)
    assert overload_wait(too_long, CONFIG, 1, 1e6) is None  # past max_retry_after
    assert overload_wait(busy, CONFIG, 1, 0.0) is None


def test_a_quota_is_not_an_overload() -> None:
    assert is_overload(SpaceRateLimitError("busy"))
    assert not is_overload(SpaceQuotaError("quota spent", retry_after=60.0))
    assert not is_overload(ValueError("x"))


def test_a_prompt_that_cannot_be_answered_before_its_deadline_is_counted_lost() -> None:
    """A Space that never frees up: each prompt retries until its deadline, then gives up
    (the batch raises the typed error for it)."""
    random.seed(0)
    sim = Simulation(SimSpace(capacity=0, queue=0, service=0.1), Limiter())
    run = sim.batch(5, cap=8, deadline=3.0)
    assert run.answered == 0 and run.lost == 5
    assert sim.now <= 3.0 + sim.space.reject  # no wait begun that would pass the deadline


def test_gave_up_names_the_deadline() -> None:
    from langchain_hf_spaces._limiter import gave_up

    busy = SpaceRateLimitError("Queue is full", tier="base", url=CONFIG.url, status_code=503)
    deadline = Deadline.start(30.0, lambda: 0.0, "timeout")
    err = gave_up(busy, 7, deadline, CONFIG)
    assert isinstance(err, SpaceRateLimitError) and err.status_code == 503
    assert "7 overload answer(s)" in err.message and "timeout=30s" in err.message
    assert err.tier == "base" and err.url == CONFIG.url and "timeout=" in (err.hint or "")


# ---------------------------------------------------------------------- properties
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    capacity=st.integers(1, 24),
    queue=st.integers(0, 12),
    cap=st.integers(1, 40),
    prompts=st.integers(1, 150),
    jitter=st.sampled_from([0.0, 0.5, 2.0]),
    initial=st.one_of(st.none(), st.integers(1, 64)),
    seed=st.integers(0, 1000),
)
def test_every_prompt_is_answered_within_the_cap(
    capacity: int, queue: int, cap: int, prompts: int, jitter: float, initial: int | None, seed: int
) -> None:
    """Whatever the Space and the batch: every prompt answered (the deadline is far), never
    more than ``cap`` in flight, the limit within [1, ceiling]."""
    random.seed(seed)
    limiter = Limiter(initial=initial)
    sim = Simulation(SimSpace(capacity, queue, 0.1, jitter=jitter), limiter, seed)
    run = sim.batch(prompts, cap=cap)
    assert run.answered == prompts and run.lost == 0
    assert run.peak <= cap
    assert all(1 <= limit <= limiter.ceiling for _, limit in run.limits)
    assert limiter.inflight == 0


@settings(max_examples=40, deadline=None)
@given(
    outcomes=st.lists(
        st.tuples(st.sampled_from(["ok", "overload", "error"]), st.floats(0.0, 5.0)),
        max_size=200,
    ),
    ceiling=st.integers(1, 100),
)
def test_the_limit_stays_between_the_floor_and_the_ceiling(
    outcomes: list[tuple[str, float]], ceiling: int
) -> None:
    now = [0.0]
    limiter = Limiter(ceiling=ceiling, clock=lambda: now[0])
    group = Group(1000)
    for outcome, latency in outcomes:
        permit = limiter.try_acquire(group)
        assert permit is not None
        now[0] += latency
        limiter.release(permit, outcome)  # type: ignore[arg-type]
        assert 1 <= limiter.limit <= ceiling
    assert limiter.inflight == 0


@pytest.mark.parametrize("adaptive", [True, False])
def test_a_pinned_limiter_never_moves(adaptive: bool) -> None:
    now = [0.0]
    limiter = Limiter(initial=7, ceiling=7, adaptive=adaptive, clock=lambda: now[0])
    group = Group(7)
    for latency in [1.0, 1.0, 5.0, 9.0]:
        permit = limiter.try_acquire(group)
        assert permit is not None
        now[0] += latency
        limiter.release(permit, "overload")
    assert (limiter.limit == 7) is (not adaptive)
