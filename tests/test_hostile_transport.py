"""Hostile transports (issue #14 items 1-3, #15 item 6): live on loopback, and the flow by hand.

Compression bombs stop at the answer cap counted after decoding; a trickle, endless heartbeats
or slowly arriving sleeping pages end at the call's total deadline or at ``wake_timeout``;
calls hanging on one Space leave the others' connections alone, and a full pool ends in a typed
error; sleeping Spaces are polled as their ``estimated_time`` says, with a log line now and
then. Each test failed before the change it protects. Waits here are hang guards only.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from langchain_hf_spaces import (
    SpaceClient,
    SpaceConfig,
    SpaceConfigError,
    SpaceInputError,
    SpaceResponseError,
    SpacesClient,
    SpacesSettings,
    SpaceTimeoutError,
    SpaceUnavailableError,
)
from langchain_hf_spaces import _constants as C
from langchain_hf_spaces._policy import Failed, exchange
from tests.support.hostile import (
    HostileServer,
    SlowServer,
    answer,
    bomb,
    hang,
    heartbeats,
    response,
    trickle,
)
from tests.test_flow import URL, FakeClock, Script, ok, raw

_T = TypeVar("_T")
FAST: dict[str, Any] = {"max_retries": 0, "retry_initial_delay": 0.01}
GUARD = 20.0
"""Seconds a call may take before the test calls it hung (a hang guard, not a timing check)."""
JSON = "application/json"
OK_B = response("200 OK", b'{"generated_text": "from B"}', content_type=JSON)


def client(url: str, **cfg: Any) -> SpaceClient:
    return SpaceClient(SpaceConfig(url=url, **{**FAST, **cfg}))


def guarded(call: Callable[[], _T], limit: float = GUARD) -> _T | BaseException:
    """Run ``call`` in a thread; its result or exception, or fail the test if it hangs."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(call())
        except BaseException as exc:
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        pytest.fail(f"the call hung for more than {limit}s")
    return out[0]  # type: ignore[no-any-return]


def wait_for(condition: Callable[[], bool], limit: float = GUARD) -> None:
    end = time.monotonic() + limit
    while not condition():
        if time.monotonic() > end:
            pytest.fail("the servers never saw the calls")
        time.sleep(0.02)


# ------------------------------------------------------------------ compression bombs
@functools.cache
def _bomb(encoding: str, pattern: bytes) -> bytes:
    return bomb(encoding, 256 << 20, pattern)  # 256 MiB once decoded


def _peak(call: Callable[[], Any]) -> tuple[BaseException | None, int]:
    tracemalloc.start()
    try:
        try:
            call()
        except Exception as exc:
            return exc, tracemalloc.get_traced_memory()[1]
        return None, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("encoding", ["gzip", "gzip, br"])
def test_a_compression_bomb_stops_at_the_answer_cap(encoding: str) -> None:
    body = _bomb(encoding, b"\0")
    assert len(body) < 300_000 and (encoding == "gzip" or len(body) < 1000)
    reply = response("200 OK", body, content_type=JSON, content_encoding=encoding)
    with HostileServer([reply]) as srv:
        exc, peak = _peak(lambda: client(srv.url).generate("Hello"))
    assert isinstance(exc, SpaceResponseError), exc
    assert "max_response_bytes" in exc.message and exc.url == srv.url and exc.hint
    assert peak < 64 << 20  # a memory bound: 256 MiB were on offer


@pytest.mark.parametrize("encoding", ["gzip", "gzip, br"])
def test_a_compression_bomb_in_a_stream_stops_at_the_cap(encoding: str) -> None:
    body = _bomb(encoding, b": keep-alive\n\n")
    reply = response("200 OK", body, content_type="text/event-stream", content_encoding=encoding)
    with HostileServer([reply]) as srv:
        exc, peak = _peak(lambda: list(client(srv.url, protocol="tgi").stream("Hello")))
    assert isinstance(exc, SpaceResponseError), exc
    assert "max_response_bytes" in exc.message and exc.url == srv.url
    assert peak < 64 << 20


def test_a_compression_bomb_is_stopped_by_the_async_client_too() -> None:
    body = _bomb("gzip, br", b"\0")
    reply = response("200 OK", body, content_type=JSON, content_encoding="gzip, br")
    with HostileServer([reply]) as srv:
        exc, peak = _peak(lambda: asyncio.run(client(srv.url).agenerate("Hello")))
    assert isinstance(exc, SpaceResponseError) and "max_response_bytes" in exc.message
    assert peak < 64 << 20


def test_an_answer_in_an_unknown_coding_is_a_typed_error() -> None:
    reply = response(
        "200 OK", b"\x28\xb5\x2f\xfd garbage", content_type=JSON, content_encoding="zstd"
    )
    with (
        HostileServer([reply]) as srv,
        pytest.raises(SpaceResponseError, match="Content-Encoding") as caught,
    ):
        client(srv.url).generate("Hello")
    assert b"zstd" not in srv.requests[0].lower()  # never asked for what we cannot bound
    assert caught.value.url == srv.url


def test_well_behaved_compressed_answers_still_work() -> None:
    import zlib

    import brotli

    data = json.dumps({"generated_text": "compressed " * 1000}).encode()
    gz = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    gzipped = gz.compress(data) + gz.flush()
    replies = [
        response("200 OK", gzipped, content_type=JSON, content_encoding="gzip"),
        response(
            "200 OK", brotli.compress(gzipped), content_type=JSON, content_encoding="gzip, br"
        ),
        response("200 OK", zlib.compress(data), content_type=JSON, content_encoding="deflate"),
    ]
    with HostileServer(replies) as srv:
        c = client(srv.url)
        assert [c.generate("Hi") for _ in replies] == ["compressed " * 1000] * 3


# ------------------------------------------------------------------ the total deadline
TRICKLED = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n"


@pytest.mark.parametrize("with_head", [False, True], ids=["body", "headers"])
def test_a_trickling_answer_ends_at_the_total_timeout(with_head: bool) -> None:
    with SlowServer(trickle(TRICKLED, every=0.5, with_head=with_head)) as srv:
        exc = guarded(lambda: client(srv.url, total_timeout=2).generate("Hello"))
    assert isinstance(exc, SpaceTimeoutError), exc
    assert "timeout=2s" in exc.message and exc.url == srv.url and exc.tier == "base"
    assert exc.hint and "timeout=" in exc.hint


def test_a_per_call_timeout_overrides_the_spaces() -> None:
    with SlowServer(trickle(TRICKLED, every=0.5, with_head=False)) as srv:
        c = client(srv.url)  # the default timeout is 20 minutes
        exc = guarded(lambda: c.generate("Hello", timeout=1.5))
        aexc = guarded(lambda: asyncio.run(c.agenerate("Hello", timeout=1.5)))
    assert isinstance(exc, SpaceTimeoutError) and "timeout=1.5s" in exc.message
    assert isinstance(aexc, SpaceTimeoutError) and "timeout=1.5s" in aexc.message
    assert all(b"timeout" not in r.partition(b"\r\n\r\n")[2] for r in srv.requests)  # not sent


def test_a_trickle_through_the_tiers_client_ends_too() -> None:
    with SlowServer(trickle(TRICKLED, every=0.5, with_head=True)) as srv:
        spaces = SpacesClient(SpacesSettings(tiers={"base": {"url": srv.url, **FAST}}))
        exc = guarded(lambda: spaces.generate("Hello", timeout=2))
    assert isinstance(exc, SpaceTimeoutError) and exc.tier == "base"


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan"), "2", True])
def test_a_bad_per_call_timeout_is_refused(bad: Any) -> None:
    with HostileServer([OK_B]) as srv, pytest.raises(SpaceInputError, match="timeout"):
        client(srv.url).generate("Hello", timeout=bad)
    assert srv.requests == []


@pytest.mark.parametrize("field", ["total_timeout", "pool_timeout"])
@pytest.mark.parametrize("bad", [0, -3, float("inf")])
def test_the_timeout_settings_are_finite_and_positive(field: str, bad: float) -> None:
    with pytest.raises(SpaceConfigError, match=field):
        SpaceConfig(url="http://127.0.0.1:9", **{field: bad})
    assert getattr(SpaceConfig(url="http://127.0.0.1:9", **{field: 7}), field) == 7.0


def test_heartbeats_forever_end_at_the_total_timeout() -> None:
    with SlowServer(heartbeats(every=0.2)) as srv:
        c = client(srv.url, protocol="tgi", total_timeout=2)
        exc = guarded(lambda: list(c.stream("Hello")))
        aexc = guarded(lambda: asyncio.run(_drain(c.astream("Hello"))))
    for e in (exc, aexc):
        assert isinstance(e, SpaceTimeoutError), e
        assert "timeout=2s" in e.message and "stream" in e.message and e.url == srv.url


async def _drain(chunks: Any) -> list[str]:
    return [c async for c in chunks]


def test_a_stream_that_goes_quiet_ends_at_read_timeout() -> None:
    def quiet(conn: Any, request: bytes, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")
        conn.sendall(b'data: {"token": {"text": "a"}}\n\n')
        stop.wait()

    with SlowServer(quiet) as srv:
        exc = guarded(lambda: list(client(srv.url, protocol="tgi", read_timeout=0.5).stream("Hi")))
    assert isinstance(exc, SpaceTimeoutError), exc
    assert "read_timeout=0.5s" in exc.message


def test_wake_timeout_holds_when_each_sleeping_page_arrives_slowly() -> None:
    head = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/html\r\n\r\n<html>sleeping"
    with SlowServer(trickle(head, every=0.2, with_head=False)) as srv:
        c = client(srv.url, wake_timeout=1.0, total_timeout=120)
        exc = guarded(lambda: c.generate("Hello"))
        aexc = guarded(lambda: asyncio.run(c.agenerate("Hello")))
    for e in (exc, aexc):
        assert isinstance(e, SpaceUnavailableError), e
        assert "wake_timeout=1.0s" in e.message and e.hint and e.url == srv.url


# ------------------------------------------------------------------ one pool per Space
def _tiers(stuck: str, fine: str, **cfg: Any) -> SpacesClient:
    tiers = {"base": {"url": fine, **FAST}, "company": {"url": stuck, **FAST, **cfg}}
    return SpacesClient(SpacesSettings(tiers=tiers))


def test_calls_hanging_on_one_tier_do_not_block_another(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C, "DEFAULT_MAX_CONNECTIONS", 20)
    with SlowServer(hang) as stuck, SlowServer(answer(OK_B)) as fine:
        spaces = _tiers(stuck.url, fine.url, total_timeout=60)
        hung = [
            threading.Thread(target=guarded, args=(lambda: spaces.generate("x", tier="company"),))
            for _ in range(20)
        ]
        for t in hung:
            t.start()
        wait_for(lambda: len(stuck.requests) == 20)
        assert guarded(lambda: spaces.generate("Hello", tier="base"), 10) == "from B"
    for t in hung:
        t.join(GUARD)


def test_async_calls_hanging_on_one_tier_do_not_block_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(C, "DEFAULT_MAX_CONNECTIONS", 20)

    async def scenario(spaces: SpacesClient, stuck: SlowServer) -> str:
        hung = [asyncio.ensure_future(spaces.agenerate("x", tier="company")) for _ in range(20)]
        while len(stuck.requests) < 20:
            await asyncio.sleep(0.02)
        try:
            return await asyncio.wait_for(spaces.agenerate("Hello", tier="base"), 10)
        finally:
            for task in hung:
                task.cancel()
            await asyncio.gather(*hung, return_exceptions=True)
            await spaces.aclose()

    with SlowServer(hang) as stuck, SlowServer(answer(OK_B)) as fine:
        spaces = _tiers(stuck.url, fine.url, total_timeout=60)
        assert guarded(lambda: asyncio.run(scenario(spaces, stuck))) == "from B"


def test_a_full_pool_ends_in_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C, "DEFAULT_MAX_CONNECTIONS", 2)
    with SlowServer(hang) as stuck:
        c = client(stuck.url, pool_timeout=0.5, total_timeout=60)
        hung = [threading.Thread(target=guarded, args=(lambda: c.generate("x"),)) for _ in range(2)]
        for t in hung:
            t.start()
        wait_for(lambda: len(stuck.requests) == 2)
        exc = guarded(lambda: c.generate("one too many"))
        assert len(stuck.requests) == 2  # it never got a connection
    assert isinstance(exc, SpaceTimeoutError), exc
    assert "pool_timeout=0.5s" in exc.message and exc.url == stuck.url
    assert exc.hint and "max_concurrency" in exc.hint and "pool_timeout" in exc.hint
    for t in hung:
        t.join(GUARD)


def test_a_full_async_pool_ends_in_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C, "DEFAULT_MAX_CONNECTIONS", 2)

    async def scenario(c: SpaceClient, stuck: SlowServer) -> BaseException | None:
        hung = [asyncio.ensure_future(c.agenerate("x")) for _ in range(2)]
        while len(stuck.requests) < 2:
            await asyncio.sleep(0.02)
        try:
            await c.agenerate("one too many")
        except SpaceTimeoutError as exc:
            return exc
        finally:
            for task in hung:
                task.cancel()
            await asyncio.gather(*hung, return_exceptions=True)
            await c.aclose()
        return None

    with SlowServer(hang) as stuck:
        c = client(stuck.url, pool_timeout=0.5, total_timeout=60)
        exc = guarded(lambda: asyncio.run(scenario(c, stuck)))
    assert isinstance(exc, SpaceTimeoutError) and "pool_timeout=0.5s" in exc.message


# ------------------------------------------------------------------ the flow, by hand
LOADING = json.dumps({"error": "Model is loading", "estimated_time": 20}).encode()


def _waking(body: bytes, n: int, clock: FakeClock, **cfg: Any) -> Script:
    script = Script([raw(503, body)] * n + [ok({"generated_text": "awake"})], clock)
    config = SpaceConfig(url=URL, **cfg)
    script.run(
        exchange(config, tier="base", method="POST", url=URL, body={}, headers={}, clock=clock)
    )
    return script


def test_estimated_time_is_honoured() -> None:
    script = _waking(LOADING, 3, FakeClock())
    assert [e.delay for e in script.events] == [20.0, 20.0, 20.0]
    assert [s.seconds for s in script.sleeps] == [20.0, 20.0, 20.0]
    assert all(e.reason == "waking" and "estimated 20s" in e.detail for e in script.events)


def test_a_long_estimated_time_is_bounded() -> None:
    body = json.dumps({"error": "loading", "estimated_time": 5000}).encode()
    script = _waking(body, 2, FakeClock())
    assert [e.delay for e in script.events] == [C.WAKE_MAX_ESTIMATE_WAIT] * 2


def test_estimated_time_is_bounded_by_the_wake_and_the_total_budgets() -> None:
    clock = FakeClock()
    script = Script([raw(503, LOADING)] * 5, clock)
    config = SpaceConfig(url=URL, wake_timeout=30)
    flow = exchange(config, tier="base", method="POST", url=URL, body={}, headers={}, clock=clock)
    with pytest.raises(SpaceUnavailableError, match="wake_timeout"):
        script.run(flow)
    assert [e.delay for e in script.events] == [20.0, 10.0]
    clock = FakeClock()
    script = Script([raw(503, LOADING)] * 5, clock)
    config = SpaceConfig(url=URL, total_timeout=25)
    flow = exchange(config, tier="base", method="POST", url=URL, body={}, headers={}, clock=clock)
    with pytest.raises(SpaceTimeoutError, match="timeout=25s"):
        script.run(flow)
    assert [e.delay for e in script.events] == [20.0, 5.0]


def test_without_an_estimate_the_polls_back_off() -> None:
    script = _waking(b"<html>sleeping</html>", 7, FakeClock())
    assert [e.delay for e in script.events] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    fixed = _waking(b"<html>sleeping</html>", 3, FakeClock(), wake_poll_interval=2.0)
    assert [e.delay for e in fixed.events] == [2.0, 2.0, 2.0]  # an interval you set is kept


def test_a_long_wait_logs_once_then_every_30_seconds_at_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="langchain_hf_spaces")
    clock = FakeClock()
    script = _waking(b"<html>sleeping</html>", 62, clock)  # about five minutes of polls
    waited = sum(s.seconds for s in script.sleeps)
    assert waited > 290
    records = [r for r in caplog.records if "is waking up" in r.getMessage()]
    assert {r.levelno for r in records} == {logging.INFO}
    assert 1 < len(records) <= 1 + waited / C.WAKE_LOG_INTERVAL
    assert len(script.events) == 62  # every poll is still reported to on_wait


def test_every_request_carries_what_is_left_of_the_deadline() -> None:
    clock = FakeClock()
    script = Script([raw(503, LOADING), ok({"generated_text": "x"})], clock)
    config = SpaceConfig(url=URL, total_timeout=100)
    flow = exchange(config, tier="base", method="POST", url=URL, body={}, headers={}, clock=clock)
    script.run(flow)
    assert [s.budget for s in script.sent] == [100.0, 80.0]


def test_a_retry_that_would_outlast_the_deadline_is_not_waited_for() -> None:
    clock = FakeClock()
    script = Script([raw(429, b"{}", **{"retry-after": "30"}), ok({"generated_text": "x"})], clock)
    config = SpaceConfig(url=URL, total_timeout=10)
    flow = exchange(config, tier="base", method="POST", url=URL, body={}, headers={}, clock=clock)
    with pytest.raises(Exception, match="429"):
        script.run(flow)
    assert script.sleeps == []


def test_a_deadline_failure_from_the_driver_is_a_timeout() -> None:
    script = Script([Failed("deadline", "ReadTimeout")])
    config = SpaceConfig(url=URL, total_timeout=7)
    flow = exchange(config, tier="base", method="POST", url=URL, body={}, headers={})
    with pytest.raises(SpaceTimeoutError, match="timeout=7s") as caught:
        script.run(flow)
    assert caught.value.tier == "base" and caught.value.url == URL
