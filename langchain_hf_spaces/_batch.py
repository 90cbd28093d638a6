"""Batches: many calls to one Space through its adaptive limit (the sync and async drivers).

What to do is decided in :mod:`langchain_hf_spaces._limiter` (the limit, permits, the overload
retry policy); here only the waiting is done, with threads or with asyncio tasks, and the
results are collected in order. Used by ``SpaceClient.batch``/``abatch``, ``SpacesClient``'s,
``generate_variations``, the LangChain models' ``batch``/``abatch`` and ``hf-spaces batch``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from langchain_hf_spaces._limiter import (
    DEFAULT_BATCH_MAX_CONCURRENCY,
    Attempt,
    Group,
    Limiter,
    Permit,
    SpaceHint,
    current_attempt,
    enter,
    gave_up,
    is_overload,
    leave,
    limiter_for,
    overload_wait,
    tgi_hint,
)
from langchain_hf_spaces._policy import Deadline
from langchain_hf_spaces.errors import (
    HFSpacesError,
    SpaceInputError,
    SpaceRateLimitError,
    SpaceTimeoutError,
)

if TYPE_CHECKING:
    from langchain_hf_spaces._space import SpaceClient

__all__ = ["Batch", "BatchStats", "agated", "batch_scope", "check_prompts", "gated"]

logger = logging.getLogger("langchain_hf_spaces")

_R = TypeVar("_R")
_DEADLINE_SLACK = 0.05
"""A timeout this close to the prompt's deadline is the deadline's (the transport ends a
request on its own timer, a hair before the deadline's clock says so)."""
OnDone = Callable[[int, Any], None]


class BatchStats:
    """Running counts of a batch, for a progress line (thread-safe)."""

    def __init__(self, limiter: Limiter, clock: Callable[[], float] = time.monotonic) -> None:
        self.limiter = limiter
        self.clock = clock
        self.started = clock()
        self.answered = 0
        self.failed = 0
        self.retries = 0
        """Overload answers retried (queue full, 429, 503 overloaded)."""
        self.queue_waits = 0
        """Attempts that waited in the Space's own queue (it reported a position)."""
        self._lock = threading.Lock()

    def add(self, *, answered: int = 0, failed: int = 0, retries: int = 0, queued: int = 0) -> None:
        with self._lock:
            self.answered += answered
            self.failed += failed
            self.retries += retries
            self.queue_waits += queued

    @property
    def limit(self) -> int:
        """The Space's concurrency limit now."""
        return self.limiter.limit

    def goodput(self) -> float:
        """Answers per second since the batch started."""
        elapsed = self.clock() - self.started
        return self.answered / elapsed if elapsed > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The batch's figures as JSON data (what ``hf-spaces stats`` prints for a batch run)."""
        with self._lock:
            return {
                "answered": self.answered,
                "failed": self.failed,
                "overload_retries": self.retries,
                "queue_waits": self.queue_waits,
                "limit": self.limit,
                "seconds": round(self.clock() - self.started, 3),
                "goodput": round(self.goodput(), 3),
            }

    def line(self) -> str:
        """``3.2 answers/s  limit 4  2 queue waits  5 retries``."""
        return (
            f"{self.goodput():.1f} answers/s  limit {self.limit}  "
            f"{self.queue_waits} queue waits  {self.retries} retries"
        )


def check_prompts(space: SpaceClient, prompts: Any) -> list[str]:
    """The prompts as a list; a single string or a non-list is refused before sending."""
    kw: dict[str, Any] = {"tier": space.tier, "url": space.config.url}
    if isinstance(prompts, (str, bytes)) or not isinstance(prompts, Sequence):
        raise SpaceInputError(
            f"prompts must be a list of strings, got {type(prompts).__name__}.",
            hint="Pass [prompt] for one prompt, or call complete().",
            **kw,
        )
    return list(prompts)


def _cap(space: SpaceClient, max_concurrency: Any, size: int | None) -> int:
    if max_concurrency is not None and (
        isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int)
    ):
        raise SpaceInputError(
            f"max_concurrency={max_concurrency!r} must be an int >= 1 or None.",
            tier=space.tier,
            url=space.config.url,
        )
    if max_concurrency is not None and max_concurrency < 1:
        raise SpaceInputError(
            f"max_concurrency={max_concurrency!r} must be >= 1.",
            tier=space.tier,
            url=space.config.url,
        )
    cap = max_concurrency or DEFAULT_BATCH_MAX_CONCURRENCY
    return max(1, min(cap, size)) if size else cap


class Batch:
    """One batch's view of its Space's limit: a cap of its own, the shared (or a pinned) limit,
    each call retried on overload answers until its deadline.

    ``timeout`` is each prompt's time limit (default the Space's ``total_timeout``), counted
    from its first attempt and over its overload retries; waiting for a slot of the limit does
    not count (a batch of thousands would otherwise time out in its own queue).
    """

    def __init__(
        self,
        space: SpaceClient,
        *,
        max_concurrency: int | None = None,
        adaptive: bool = True,
        timeout: float | None = None,
        size: int | None = None,
        stats: BatchStats | None = None,
        read_hints: bool = True,
    ) -> None:
        if not isinstance(adaptive, bool):
            raise SpaceInputError(
                f"adaptive={adaptive!r} must be True or False.",
                tier=space.tier,
                url=space.config.url,
            )
        self.space = space
        self.cap = _cap(space, max_concurrency, size)
        space._core.deadline(timeout)  # a bad timeout is refused before anything is sent
        self.timeout = timeout
        self.adaptive = adaptive
        self.read_hints = read_hints
        self.limiter = (
            limiter_for(space.config.url)
            if adaptive
            else Limiter(initial=self.cap, ceiling=self.cap, adaptive=False)
        )
        self.group = Group(self.cap)
        self.stats = stats if stats is not None else BatchStats(self.limiter)
        self.stats.limiter = self.limiter

    # ------------------------------------------------------------------ what the Space says
    def _take_hint(self, protocol: str, info: Any) -> None:
        hint = tgi_hint(info) if protocol == "tgi" else None
        if hint is not None:
            self._apply(hint)

    def _apply(self, hint: SpaceHint) -> None:
        if self.limiter.hint != hint:
            logger.info(
                "Space %s (tier %s): %s gives a concurrency of %s (bound %s)",
                self.space.config.url,
                self.space.tier,
                hint.source,
                hint.initial,
                hint.ceiling,
            )
            self.limiter.apply_hint(hint)

    def _known_hint(self) -> bool:
        """Without ``read_hints``, only what the client already knows is used (no request)."""
        if self.read_hints:
            return False
        space = self.space
        if space._info_known and space._core.protocol is not None:
            self._take_hint(space._core.protocol.name, space._info)
        return True

    def hint(self) -> None:
        """Read what the Space publishes of its capacity (TGI's ``/info``), once per client;
        a Space that does not answer is left to the calls (their errors are theirs)."""
        if not self.adaptive or self._known_hint():
            return
        try:
            protocol = self.space.resolve_protocol()
            info = self.space.info() if protocol == "tgi" else None
        except HFSpacesError:
            return
        self._take_hint(protocol, info)

    async def ahint(self) -> None:
        """Async :meth:`hint`."""
        if not self.adaptive or self._known_hint():
            return
        try:
            protocol = await self.space.aresolve_protocol()
            info = await self.space.ainfo() if protocol == "tgi" else None
        except HFSpacesError:
            return
        self._take_hint(protocol, info)

    # ------------------------------------------------------------------ permits
    def _acquire(self) -> Permit:
        ready = threading.Event()
        got = self.limiter.acquire_or_wait(self.group, ready.set)
        if isinstance(got, Permit):
            return got
        try:
            ready.wait()
        except BaseException:  # KeyboardInterrupt while waiting
            self.limiter.cancel(got)
            raise
        assert got.permit is not None
        return got.permit

    async def _aacquire(self) -> Permit:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            loop.call_soon_threadsafe(_resolve, ready)

        got = self.limiter.acquire_or_wait(self.group, wake)
        if isinstance(got, Permit):
            return got
        try:
            await ready
        except BaseException:  # cancelled while waiting (or after a permit was handed over)
            self.limiter.cancel(got)
            raise
        assert got.permit is not None
        return got.permit

    # ------------------------------------------------------------------ one call
    def _retry(self, exc: SpaceRateLimitError, overloads: int, deadline: Deadline) -> float:
        """The wait before the next try, or the typed error when there is no time for it."""
        delay = overload_wait(exc, self.space.config, overloads, deadline.left())
        if delay is None:
            raise gave_up(exc, overloads, deadline, self.space.config) from None
        self.stats.add(retries=1)
        logger.debug(
            "Space %s (tier %s): overloaded (%s); prompt retried in %.2fs (limit now %d)",
            self.space.config.url,
            self.space.tier,
            exc.message,
            delay,
            self.limiter.limit,
        )
        return delay

    def call(self, ask: Callable[[], _R]) -> _R:
        """``ask()`` under the limit, again after each overload answer while the deadline
        allows; any other failure is raised as it is. Inside another batch's call (a call
        made while answering one), it rides on that call's permit: no second permit is waited
        for, which could never come with a limit of 1."""
        if current_attempt() is not None:
            return ask()
        tries = _Tries(self)
        while True:
            token = enter(tries.start(self._acquire()))
            try:
                value = ask()
            except BaseException as exc:
                delay = tries.failed(exc)
                if delay is None:
                    raise
            else:
                tries.done()
                return value
            finally:
                leave(token)
            time.sleep(delay)

    async def acall(self, ask: Callable[[], Awaitable[_R]]) -> _R:
        """Async :meth:`call`."""
        if current_attempt() is not None:
            return await ask()
        tries = _Tries(self)
        while True:
            token = enter(tries.start(await self._aacquire()))
            try:
                value = await ask()
            except BaseException as exc:
                delay = tries.failed(exc)
                if delay is None:
                    raise
            else:
                tries.done()
                return value
            finally:
                leave(token)
            await asyncio.sleep(delay)

    # ------------------------------------------------------------------ many calls
    def _settle(
        self,
        results: list[Any],
        i: int,
        outcome: Any,
        failed: bool,
        return_exceptions: bool,
        on_done: OnDone | None,
    ) -> bool:
        """Prompt ``i``'s answer (or failure) counted and put in its place; ``False`` when the
        failure is to stop the batch (without ``return_exceptions``): the driver raises it."""
        if failed:
            self.stats.add(failed=1)
            if not return_exceptions:
                return False
            results[i] = outcome
        else:
            results[i] = outcome
            self.stats.add(answered=1)
        if on_done is not None:
            on_done(i, outcome)
        return True

    def map(
        self,
        n: int,
        ask: Callable[[int], _R],
        *,
        return_exceptions: bool = False,
        catch: type[BaseException] = HFSpacesError,
        on_done: OnDone | None = None,
    ) -> list[Any]:
        """``ask(i)`` for every ``i < n`` on up to ``cap`` threads, results in order.

        A failure (an instance of ``catch``) takes the prompt's place with
        ``return_exceptions``; else no new prompt is started, the running ones finish (threads
        cannot be interrupted) and the first failure is raised."""
        results: list[Any] = [None] * n
        if n == 0:
            return results
        self.hint()
        lock = threading.Lock()
        order = iter(range(n))
        failures: list[BaseException] = []

        def worker() -> None:
            while True:
                with lock:
                    i = None if failures else next(order, None)
                if i is None:
                    return
                outcome: Any
                try:
                    outcome, failed = self.call(functools.partial(ask, i)), False
                except catch as exc:
                    outcome, failed = exc, True
                except BaseException as exc:
                    with lock:
                        failures.append(exc)
                    return
                if not self._settle(results, i, outcome, failed, return_exceptions, on_done):
                    with lock:
                        failures.append(outcome)
                    return

        workers = min(n, self.cap)
        if workers == 1:
            worker()
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="hf-spaces-batch") as pool:
                futures = [
                    pool.submit(contextvars.copy_context().run, worker) for _ in range(workers)
                ]
                for future in futures:
                    future.result()
        if failures:
            raise failures[0]
        return results

    async def amap(
        self,
        n: int,
        ask: Callable[[int], Awaitable[_R]],
        *,
        return_exceptions: bool = False,
        catch: type[BaseException] = HFSpacesError,
        on_done: OnDone | None = None,
    ) -> list[Any]:
        """Async :meth:`map`: up to ``cap`` tasks; on a failure without
        ``return_exceptions`` the other calls are cancelled and the first failure raised."""
        results: list[Any] = [None] * n
        if n == 0:
            return results
        await self.ahint()
        order = iter(range(n))

        async def worker() -> None:
            for i in order:
                outcome: Any
                try:
                    outcome, failed = await self.acall(functools.partial(ask, i)), False
                except catch as exc:
                    outcome, failed = exc, True
                if not self._settle(results, i, outcome, failed, return_exceptions, on_done):
                    raise outcome

        tasks = [asyncio.ensure_future(worker()) for _ in range(min(n, self.cap))]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                task.cancel()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:  # the first failure in finishing order
            if task in done and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(
                outcome, asyncio.CancelledError
            ):
                raise outcome
        return results


class _Tries:
    """One prompt's tries through a batch's limit: what to do after each (no I/O, no waiting;
    :meth:`Batch.call` and :meth:`Batch.acall` drive it)."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.deadline: Deadline | None = None
        self.overloads = 0
        self.last: SpaceRateLimitError | None = None
        self.permit: Permit | None = None
        self.attempt: Attempt | None = None

    def start(self, permit: Permit) -> Attempt:
        """The attempt made with ``permit``; the deadline starts at the first one, and a
        deadline spent waiting for a slot after an overload answer raises the typed error."""
        batch = self.batch
        deadline = self.deadline
        if deadline is None:
            deadline = self.deadline = batch.space._core.deadline(batch.timeout)
        elif self.last is not None and deadline.left() <= 0:  # it ran out waiting for a slot
            batch.limiter.release(permit, "error")
            raise gave_up(self.last, self.overloads, deadline, batch.space.config)
        self.permit = permit
        self.attempt = Attempt(deadline)
        return self.attempt

    def done(self) -> None:
        """The attempt answered."""
        assert self.permit is not None and self.attempt is not None
        self.batch.limiter.release(self.permit, "ok")
        self.batch.stats.add(queued=int(self.attempt.queued))

    def failed(self, exc: BaseException) -> float | None:
        """After the attempt raised ``exc``: the wait before the next try (an overload answer
        with time left), ``None`` when ``exc`` is to be raised as it is, or the typed error
        raised when the prompt's deadline went on overload answers."""
        batch, permit, deadline = self.batch, self.permit, self.deadline
        assert permit is not None and deadline is not None
        if isinstance(exc, SpaceRateLimitError) and is_overload(exc):
            batch.limiter.release(permit, "overload")
            self.overloads += 1
            self.last = exc
            return batch._retry(exc, self.overloads, deadline)
        batch.limiter.release(permit, "error")
        if (
            isinstance(exc, SpaceTimeoutError)
            and self.last is not None
            and deadline.left() <= _DEADLINE_SLACK
        ):
            # The prompt's deadline, spent mostly waiting out overload answers.
            raise gave_up(
                self.last, self.overloads, deadline, batch.space.config, during_try=True
            ) from exc
        return None


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# ---------------------------------------------------------------------- integrations
_ACTIVE: contextvars.ContextVar[Batch | None] = contextvars.ContextVar(
    "hf_spaces_active_batch", default=None
)
"""The batch an integration's call belongs to (a LangChain ``batch``): its calls, made by the
framework's own threads and tasks (which copy the context), go through the batch's limit."""


@contextlib.contextmanager
def batch_scope(batch: Batch | None) -> Iterator[None]:
    """Calls made inside (and in threads and tasks started inside) go through ``batch``."""
    token = _ACTIVE.set(batch)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def gated(ask: Callable[[], _R]) -> _R:
    """``ask()`` through the active batch's limit (with its overload retries), if any."""
    batch = _ACTIVE.get()
    if batch is None:
        return ask()
    with batch_scope(None):  # a call inside a call takes no second permit
        return batch.call(ask)


async def agated(ask: Callable[[], Awaitable[_R]]) -> _R:
    """Async :func:`gated`."""
    batch = _ACTIVE.get()
    if batch is None:
        return await ask()
    with batch_scope(None):
        return await batch.acall(ask)


def model_batch(model: Any, max_concurrency: Any, size: int) -> Batch | None:
    """The batch of a LangChain model's ``batch`` call: its Space's adaptive limit under the
    caller's ``max_concurrency`` as the cap; ``None`` (no limit of ours) when the model has no
    Space to call (disabled, misconfigured: each call raises its own error)."""
    try:
        space = model._space()
        return Batch(space, max_concurrency=max_concurrency, size=size, read_hints=False)
    except HFSpacesError:
        return None
