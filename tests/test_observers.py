"""Observers see every call: start, each wait, the first streamed text, exactly one end.

Against a real LocalSpace on loopback, with its faults (a 500 to retry, a sleeping Space to wake)
so the real drivers hand the events over, sync and async.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from langchain_hf_spaces import (
    MemoryCache,
    RequestLogger,
    SpaceAnswer,
    SpaceClient,
    SpaceConfig,
    SpaceConfigError,
    SpacesClient,
    SpacesSettings,
    SpacesStats,
    SpaceUnavailableError,
    WaitEvent,
)
from langchain_hf_spaces._observe import NOOP_SCOPE, CallScope, CallStart, default_observers
from langchain_hf_spaces._telemetry import OTelObserver, default_observer
from langchain_hf_spaces.testing import Fault, LocalSpace

FAST = {"retry_initial_delay": 0.01, "retry_max_delay": 0.02, "wake_poll_interval": 0.05}


class Recorder:
    """Records what it is told, in order."""

    def __init__(self) -> None:
        self.calls: list[CallStart] = []
        self.events: list[tuple[Any, ...]] = []

    def start(self, call: CallStart) -> CallScope:
        self.calls.append(call)
        self.events.append(("start",))
        return _Scope(self)

    def names(self) -> list[str]:
        return [e[0] if e[0] != "wait" else f"wait:{e[1]}" for e in self.events]

    def ends(self) -> list[tuple[Any, ...]]:
        return [e for e in self.events if e[0] == "end"]


class _Scope:
    def __init__(self, owner: Recorder) -> None:
        self.owner = owner

    def on_wait(self, event: WaitEvent) -> None:
        self.owner.events.append(("wait", event.reason, event))

    def on_first_chunk(self) -> None:
        self.owner.events.append(("first",))

    def end(self, answer: SpaceAnswer | None, error: BaseException | None) -> None:
        self.owner.events.append(("end", answer, error))


class Broken:
    """Raises from everything."""

    def __init__(self, where: str) -> None:
        self.where = where

    def start(self, call: CallStart) -> CallScope:
        if self.where == "start":
            raise RuntimeError("start broke")
        return self  # type: ignore[return-value]

    def on_wait(self, event: WaitEvent) -> None:
        raise RuntimeError("on_wait broke")

    def on_first_chunk(self) -> None:
        raise RuntimeError("on_first_chunk broke")

    def end(self, answer: SpaceAnswer | None, error: BaseException | None) -> None:
        raise RuntimeError("end broke")


@pytest.fixture(scope="module")
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="observed", stream_delay=0.001) as s:
        yield s


@pytest.fixture(autouse=True)
def _calm(space: LocalSpace) -> Iterator[None]:
    space.clear_faults()
    space.wake()
    yield
    space.clear_faults()
    space.wake()


def make(space: LocalSpace, *observers: Any, **cfg: Any) -> SpaceClient:
    config = SpaceConfig(url=space.url, protocol="tgi", **{**FAST, **cfg})
    return SpaceClient(config, tier="company", observers=list(observers))


def _expect_retry_then_wake(rec: Recorder, seen: list[WaitEvent]) -> None:
    names = rec.names()
    assert names[0] == "start" and names[-1] == "end"
    assert names[1] == "wait:retrying"
    assert set(names[2:-1]) == {"wait:waking"} and len(names) >= 4
    (_, answer, error) = rec.events[-1]
    assert error is None and isinstance(answer, SpaceAnswer) and answer.attempts == 2  # one retry
    # The caller's own on_wait got the same events, in the same order.
    assert [e[2] for e in rec.events if e[0] == "wait"] == seen


def test_events_of_a_call_with_a_retry_and_a_wake_in_order(space: LocalSpace) -> None:
    rec, seen = Recorder(), []
    with make(space, rec, wake_timeout=10) as c:
        c.complete("Warm up")  # connections made, so the faults below are met in order
        rec.calls.clear(), rec.events.clear()
        space.inject(Fault.server_error(500))
        space.sleep_for(0.5)
        c.on_wait = seen.append
        assert c.complete("Say hi", max_new_tokens=5).text
    _expect_retry_then_wake(rec, seen)
    call = rec.calls[0]
    assert (call.operation, call.tier, call.url, call.protocol) == (
        "text_completion",
        "company",
        space.url,
        "tgi",
    )
    assert call.parameters == {"max_new_tokens": 5} and call.prompt == "Say hi"
    assert call.stream is False and call.cache_lookup is False


async def test_async_events_of_a_call_with_a_retry_and_a_wake_in_order(
    space: LocalSpace,
) -> None:
    rec, seen = Recorder(), []
    async with make(space, rec, wake_timeout=10) as c:
        await c.acomplete("Warm up")
        rec.calls.clear(), rec.events.clear()
        space.inject(Fault.server_error(500))
        space.sleep_for(0.5)
        c.on_wait = seen.append
        assert (await c.acomplete("Say hi")).text
    _expect_retry_then_wake(rec, seen)


def test_a_stream_reports_its_first_chunk_before_its_end(space: LocalSpace) -> None:
    rec = Recorder()
    with make(space, rec) as c:
        chunks = list(c.stream_chunks("Tell a story", max_new_tokens=8))
    assert rec.names() == ["start", "first", "end"]
    assert rec.events[-1][1] is chunks[-1].answer and rec.calls[0].stream


async def test_an_async_stream_reports_its_first_chunk_before_its_end(space: LocalSpace) -> None:
    rec = Recorder()
    async with make(space, rec) as c:
        chunks = [ch async for ch in c.astream_chunks("Tell a story", max_new_tokens=8)]
    assert rec.names() == ["start", "first", "end"]
    assert rec.events[-1][1] is chunks[-1].answer


def test_a_failed_call_ends_with_its_error(space: LocalSpace) -> None:
    rec = Recorder()
    space.inject(Fault.server_error(500))
    with make(space, rec, max_retries=0) as c, pytest.raises(SpaceUnavailableError) as info:
        c.complete("Say hi")
    assert rec.names() == ["start", "end"]
    assert rec.events[-1][1] is None and rec.events[-1][2] is info.value


def test_a_stream_abandoned_early_ends_exactly_once(space: LocalSpace) -> None:
    rec = Recorder()
    with make(space, rec) as c:
        stream = c.stream_chunks("Tell a long story", max_new_tokens=30)
        assert next(stream).text
        stream.close()
        for _chunk in c.stream_chunks("Tell a long story", max_new_tokens=30):
            break  # a for loop left early; the generator is collected
        gc.collect()
    assert rec.names() == ["start", "first", "end"] * 2
    assert all(e[1:] == (None, None) for e in rec.ends())
    assert len(rec.ends()) == 2


async def test_an_async_stream_closed_early_ends_exactly_once(space: LocalSpace) -> None:
    rec = Recorder()
    async with make(space, rec) as c:
        stream = c.astream_chunks("Tell a long story", max_new_tokens=30)
        assert (await stream.__anext__()).text
        await stream.aclose()
    assert rec.names() == ["start", "first", "end"]
    assert rec.ends()[0][1:] == (None, None)


def test_a_stream_read_to_its_end_then_closed_ends_once(space: LocalSpace) -> None:
    rec = Recorder()
    with make(space, rec) as c:
        stream = c.stream_chunks("Tell a story", max_new_tokens=5)
        chunks = []
        for chunk in stream:
            chunks.append(chunk)
            if chunk.answer is not None:
                break  # the final chunk came; the caller stops before StopIteration
        stream.close()
    assert rec.names() == ["start", "first", "end"]
    assert rec.ends()[0][1] is chunks[-1].answer


@pytest.mark.parametrize("where", ["start", "elsewhere"])
def test_an_observer_that_raises_breaks_nothing(
    where: str, space: LocalSpace, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()
    space.inject(Fault.server_error(500))
    caplog.set_level(logging.DEBUG, logger="langchain_hf_spaces")
    with make(space, Broken(where), rec) as c:
        assert c.complete("Say hi").text
        assert "".join(c.stream("Say hi"))
    assert rec.names() == ["start", "wait:retrying", "end", "start", "first", "end"]
    broke = [r for r in caplog.records if "an observer's" in r.getMessage()]
    assert broke and all(r.levelno == logging.DEBUG for r in broke)
    expected = {"start"} if where == "start" else {"on_wait", "on_first_chunk", "end"}
    assert {r.args[0] for r in broke} == expected  # type: ignore[index]


def test_a_cache_hit_is_observed_as_a_cached_answer(space: LocalSpace) -> None:
    rec = Recorder()
    config = SpaceConfig(url=space.url, protocol="tgi")
    with SpaceClient(config, observers=[rec], cache=MemoryCache()) as c:
        c.complete("Say hi", seed=1)
        c.complete("Say hi", seed=1)
        list(c.stream_chunks("Say hi", seed=1))
    assert rec.names() == ["start", "end", "start", "end", "start", "first", "end"]
    assert [call.cache_lookup for call in rec.calls] == [True, True, True]
    assert [e[1].cached for e in rec.ends()] == [False, True, True]


def test_chat_calls_are_observed_as_chat(space: LocalSpace) -> None:
    rec = Recorder()
    config = SpaceConfig(url=space.url, protocol="openai", model="tiny-llm")
    messages = [{"role": "user", "content": "Hi"}]
    with SpaceClient(config, observers=[rec]) as c:
        c.chat(messages, max_new_tokens=5)
        list(c.chat_stream_chunks(messages))
    assert [(call.operation, call.model, call.stream) for call in rec.calls] == [
        ("chat", "tiny-llm", False),
        ("chat", "tiny-llm", True),
    ]
    assert rec.calls[0].messages == messages and rec.calls[0].prompt is None
    assert rec.names() == ["start", "end", "start", "first", "end"]


def test_structured_output_and_variations_are_calls_too(space: LocalSpace) -> None:
    rec = Recorder()
    with make(space, rec) as c:
        c.generate_variations("A slogan", 3)
    assert len(rec.calls) == len(rec.ends()) >= 3
    assert all(call.parameters.get("seed") is not None for call in rec.calls)


def test_which_observers_a_client_has(space: LocalSpace) -> None:
    config = SpaceConfig(url=space.url)
    assert SpaceClient(config, observers=[]).observers == ()
    # opentelemetry is installed in the dev venv: the shared OTel observer joins the log.
    logger, otel = SpaceClient(config).observers
    assert isinstance(logger, RequestLogger)
    assert otel is default_observer()
    assert [type(o) for o in default_observers()] == [RequestLogger, OTelObserver]
    rec = Recorder()
    settings = SpacesSettings(tiers={"base": config, "company": config})
    spaces = SpacesClient(settings, observers=[rec])
    for tier in ("base", "company"):
        assert [type(o) for o in spaces.space(tier).observers] == [Recorder, SpacesStats]
    assert [type(o) for o in SpacesClient(settings).space().observers] == [
        RequestLogger,
        OTelObserver,
        SpacesStats,
    ]
    with pytest.raises(SpaceConfigError, match="no start"):
        SpaceClient(config, observers=[object()])  # type: ignore[list-item]


def test_spaces_client_observers_see_every_tier_and_fallback(space: LocalSpace) -> None:
    rec = Recorder()
    bad = SpaceConfig(url=space.url, protocol="tgi", max_retries=0)
    settings = SpacesSettings(tiers={"base": SpaceConfig(url=space.url, protocol="tgi"), "co": bad})
    space.inject(Fault.server_error(500))
    with SpacesClient(settings, observers=[rec], fallback_to_base=True) as spaces:
        assert spaces.complete("Hi", "co").fallback_from == "co"
    assert [c.tier for c in rec.calls] == ["co", "base"]
    assert isinstance(rec.ends()[0][2], SpaceUnavailableError) and rec.ends()[1][2] is None


def test_the_noop_scope_ignores_everything() -> None:
    NOOP_SCOPE.on_wait(WaitEvent("waking", "base", "u", 0.0, 0.0))
    NOOP_SCOPE.on_first_chunk()
    assert NOOP_SCOPE.end(None, None) is None
