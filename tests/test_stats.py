"""``SpacesClient.stats()``: per tier and variant, counted from real calls to LocalSpace."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from langchain_hf_spaces import (
    MemoryCache,
    SpaceAnswer,
    SpaceClient,
    SpaceConfig,
    SpacesClient,
    SpacesSettings,
    SpacesStats,
    SpaceUnavailableError,
    StatsSnapshot,
    TierStats,
)
from langchain_hf_spaces._observe import CallStart
from langchain_hf_spaces._stats import _percentile
from langchain_hf_spaces.testing import Fault, LocalSpace

FAST = {"retry_initial_delay": 0.01, "retry_max_delay": 0.02, "wake_poll_interval": 0.05}


@pytest.fixture(scope="module")
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="counted") as s:
        yield s


@pytest.fixture(scope="module")
def broken() -> Iterator[LocalSpace]:
    with LocalSpace(name="broken") as s:
        s.inject(Fault.server_error(500), times=None)
        yield s


def settings(space: LocalSpace, broken: LocalSpace) -> SpacesSettings:
    return SpacesSettings(
        tiers={
            "base": SpaceConfig(url=space.url, protocol="tgi", wake_timeout=10, **FAST),
            "company": SpaceConfig(url=broken.url, protocol="tgi", max_retries=1, **FAST),
        }
    )


def test_stats_count_calls_errors_waits_retries_tokens_and_cache(
    space: LocalSpace, broken: LocalSpace
) -> None:
    with SpacesClient(
        settings(space, broken), cache=MemoryCache(), observers=[], on_wait=None
    ) as spaces:
        assert spaces.stats().rows == ()
        spaces.complete("Warm up")  # connections made, so the sleep below is seen
        space.sleep_for(0.5)
        first = spaces.complete("Hi", seed=1)  # waits for the Space to wake: a miss
        assert spaces.complete("Hi", seed=1).cached  # a hit
        spaces.complete("Hello")  # not deterministic: the cache is not asked
        list(spaces.stream_chunks("Tell a story", max_new_tokens=6))
        for _ in range(2):
            with pytest.raises(SpaceUnavailableError):
                spaces.complete("Hi", "company")
        snap = spaces.stats()
    base, company = snap.get("base"), snap.get("company")
    assert base is not None and company is not None
    assert [r.tier for r in snap.rows] == ["base", "company"] and snap.calls == 7
    assert (base.calls, base.errors, base.cache_hits, base.cache_misses) == (5, {}, 1, 1)
    assert base.wake_seconds > 0 and base.retries == 0
    assert base.timed == 4  # the cache hit is counted, not timed
    assert base.latency_p50 is not None and base.latency_p99 is not None
    assert base.latency_p50 <= base.latency_p95 <= base.latency_p99  # type: ignore[operator]
    assert base.latency_p99 >= 0.4  # type: ignore[operator]  # the call that waited
    assert base.completion_tokens >= 2 * (first.completion_tokens or 1)
    assert (company.calls, company.errors, company.retries) == (
        2,
        {"SpaceUnavailableError": 2},
        2,
    )
    assert company.error_count == 2 and company.prompt_tokens == 0


def test_a_snapshot_is_json_and_a_table(space: LocalSpace, broken: LocalSpace) -> None:
    with SpacesClient(settings(space, broken), observers=[]) as spaces:
        spaces.complete("Hi")
        with pytest.raises(SpaceUnavailableError):
            spaces.complete("Hi", "company")
        snap = spaces.stats()
    data = json.loads(json.dumps(snap.as_dict()))
    assert StatsSnapshot.from_dict(data) == snap
    table = snap.table()
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["tier", "variant", "calls", "errors"]
    assert lines[1].split()[:4] == ["base", "-", "1", "0"]
    assert lines[2].split()[:4] == ["company", "-", "1", "1"]
    assert "company: 1 x SpaceUnavailableError" in table
    assert str(snap) == table
    assert StatsSnapshot().table() == "No calls recorded."
    with pytest.raises(ValueError, match="not a stats snapshot"):
        StatsSnapshot.from_dict({"rows": [{"calls": 1}]})


def _call(tier: str = "base", variant: str | None = None, **kw: Any) -> CallStart:
    return CallStart(
        "text_completion", tier, "https://a.hf.space", "tgi", None, variant=variant, **kw
    )


def _answer(**kw: Any) -> SpaceAnswer:
    return SpaceAnswer("x", "base", "https://a.hf.space", None, "tgi", 0.1, 1, **kw)


def test_percentiles_are_nearest_rank_and_exact_under_the_reservoir() -> None:
    stats = SpacesStats()
    for ms in range(100, 0, -1):
        stats._record(_call(), _answer(), None, ms / 1000, 0.0, 0)
    row = stats.snapshot().get("base")
    assert row is not None
    assert (row.latency_p50, row.latency_p95, row.latency_p99) == (0.05, 0.095, 0.099)
    assert _percentile([], 50) is None and _percentile([1.0], 99) == 1.0


def test_the_reservoir_bounds_memory_and_stays_representative() -> None:
    stats = SpacesStats(reservoir=200)
    for i in range(5000):
        stats._record(_call(), _answer(), None, (i % 100) / 100, 0.0, 0)
    row = stats.snapshot().get("base")
    assert row is not None and row.timed == 5000 and row.calls == 5000
    assert len(stats._buckets[("base", None)].sample) == 200
    assert 0.4 <= row.latency_p50 <= 0.6  # type: ignore[operator]  # a uniform sample


def test_variants_have_rows_of_their_own_and_threads_count_exactly() -> None:
    stats = SpacesStats()

    def work(variant: str) -> None:
        for _ in range(500):
            scope = stats.start(_call(variant=variant))
            scope.end(_answer(prompt_tokens=2, completion_tokens=3), None)

    threads = [threading.Thread(target=work, args=(v,)) for v in ("a", "b", "a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    snap = stats.snapshot()
    assert [(r.tier, r.variant, r.calls) for r in snap.rows] == [
        ("base", "a", 1000),
        ("base", "b", 1000),
    ]
    a = snap.get("base", "a")
    assert isinstance(a, TierStats) and (a.prompt_tokens, a.completion_tokens) == (2000, 3000)
    assert "base     a" in snap.table() or "base  a" in snap.table()


def test_abandoned_streams_and_cancellations_are_told_apart() -> None:
    stats = SpacesStats()
    stats.start(_call(stream=True)).end(None, None)
    stats.start(_call()).end(None, TimeoutError())
    row = stats.snapshot().get("base")
    assert row is not None and (row.calls, row.abandoned, row.errors, row.timed) == (
        2,
        1,
        {"TimeoutError": 1},
        1,
    )
    assert "1 stream(s) left early" in stats.snapshot().table()


def test_a_single_space_client_can_be_counted_too(space: LocalSpace) -> None:
    stats = SpacesStats()
    with SpaceClient(SpaceConfig(url=space.url, protocol="tgi"), observers=[stats]) as c:
        c.complete("Hi")
    assert stats.snapshot().calls == 1
    stats.reset()
    assert stats.snapshot().rows == ()


def test_copies_of_a_client_count_afresh(space: LocalSpace, broken: LocalSpace) -> None:
    spaces = SpacesClient(settings(space, broken), observers=[])
    with spaces:
        spaces.complete("Hi")
        twin = copy.deepcopy(spaces)
    assert spaces.stats().calls == 1 and twin.stats().calls == 0
    with twin:
        twin.complete("Hi")
    assert twin.stats().calls == 1 and spaces.stats().calls == 1


async def test_async_calls_are_counted(space: LocalSpace, broken: LocalSpace) -> None:
    async with SpacesClient(settings(space, broken), observers=[]) as spaces:
        await spaces.acomplete("Hi")
        _ = [c async for c in spaces.astream_chunks("Hi")]
        with pytest.raises(SpaceUnavailableError):
            await spaces.acomplete("Hi", "company")
        snap = spaces.stats()
    assert (snap.get("base").calls, snap.get("company").errors) == (  # type: ignore[union-attr]
        2,
        {"SpaceUnavailableError": 1},
    )
