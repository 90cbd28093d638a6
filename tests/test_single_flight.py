"""``protocol="auto"``: concurrent first calls share one probe (#15, item 9).

Before, each of 16 threads (or asyncio tasks) probed the Space itself (16 threads -> 32 probe
requests). Now the first caller probes while the others wait for its answer.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from langchain_hf_spaces import SpaceClient, SpaceConfig
from langchain_hf_spaces.testing import LocalSpace

CALLERS = 16


def reply(prompt: str, parameters: dict[str, Any]) -> str:
    return f"ok {prompt}"


@pytest.fixture(scope="module")
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="base", responder=reply, stream_delay=0.001) as s:
        yield s


def _probes(space: LocalSpace) -> int:
    return sum(1 for r in space.requests if r.method == "GET")


def _one_probe(space: LocalSpace) -> int:
    """The probe requests of one auto detection on this Space (done alone)."""
    space.clear_requests()
    client = SpaceClient(SpaceConfig(url=space.url, protocol="auto"))
    assert client.generate("alone") == "ok alone"
    count = _probes(space)
    assert count >= 1
    client.close()
    return count


def test_threads_share_one_probe(space: LocalSpace) -> None:
    expected = _one_probe(space)
    space.clear_requests()
    client = SpaceClient(SpaceConfig(url=space.url, protocol="auto"))
    start = threading.Barrier(CALLERS)

    def call(i: int) -> str:
        start.wait(timeout=10)
        return client.generate(f"t{i}")

    with ThreadPoolExecutor(CALLERS) as pool:
        answers = list(pool.map(call, range(CALLERS)))
    assert answers == [f"ok t{i}" for i in range(CALLERS)]
    assert _probes(space) == expected
    client.close()


def test_streams_share_one_probe(space: LocalSpace) -> None:
    expected = _one_probe(space)
    space.clear_requests()
    client = SpaceClient(SpaceConfig(url=space.url, protocol="auto"))
    start = threading.Barrier(CALLERS)

    def call(i: int) -> str:
        start.wait(timeout=10)
        return "".join(client.stream(f"s{i}"))

    with ThreadPoolExecutor(CALLERS) as pool:
        answers = list(pool.map(call, range(CALLERS)))
    assert answers == [f"ok s{i}" for i in range(CALLERS)]
    assert _probes(space) == expected
    client.close()


def test_asyncio_tasks_share_one_probe(space: LocalSpace) -> None:
    expected = _one_probe(space)
    space.clear_requests()
    client = SpaceClient(SpaceConfig(url=space.url, protocol="auto"))

    async def main() -> list[str]:
        async def stream(i: int) -> str:
            return "".join([c async for c in client.astream(f"a{i}")])

        calls = [client.agenerate(f"a{i}") for i in range(CALLERS // 2)]
        calls += [stream(i) for i in range(CALLERS // 2, CALLERS)]
        answers = list(await asyncio.gather(*calls))
        await client.aclose()
        return answers

    assert asyncio.run(main()) == [f"ok a{i}" for i in range(CALLERS)]
    assert _probes(space) == expected


def test_a_failed_probe_is_not_remembered(space: LocalSpace) -> None:
    from langchain_hf_spaces import SpaceUnavailableError

    client = SpaceClient(SpaceConfig(url="http://127.0.0.1:9", protocol="auto", max_retries=0))
    for _ in range(2):  # each call tries again, and says why it failed
        with pytest.raises(SpaceUnavailableError):
            client.generate("x")
    assert client.protocol == "auto"
