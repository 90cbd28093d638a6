"""Fallback to the base tier for every kind of call, and ``on_wait`` from both drivers.

Fallback runs against httpx.MockTransport (no socket); the wait events are checked live on a
sleeping LocalSpace, sync and async, so the real drivers hand them over.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from langchain_hf_spaces import (
    SpaceConfig,
    SpaceInputError,
    SpacesClient,
    SpacesSettings,
    SpaceUnavailableError,
    WaitEvent,
)
from langchain_hf_spaces.testing import LocalSpace

BASE = "https://acme-base.hf.space"
COMPANY = "https://acme-co.hf.space"


def handler(r: httpx.Request) -> httpx.Response:
    if r.url.host == "acme-co.hf.space":
        return httpx.Response(500, json={"error": "boom"})
    prompt = json.loads(r.content)["inputs"] if r.content else ""
    if r.url.path == "/generate_stream":
        events = [
            {"token": {"text": "from ", "special": False}},
            {"token": {"text": "base", "special": False}, "generated_text": "from base"},
        ]
        body = "".join(f"data: {json.dumps(e)}\n\n" for e in events)
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
    if "JSON" in prompt:
        return httpx.Response(200, json={"generated_text": '{"title": "Tea"}'})
    seed = json.loads(r.content)["parameters"].get("seed")
    return httpx.Response(200, json={"generated_text": f"from base {seed}"})


def settings(protocol: str = "tgi") -> SpacesSettings:
    return SpacesSettings(
        tiers={
            "base": SpaceConfig(url=BASE, protocol=protocol),
            "company": SpaceConfig(url=COMPANY, protocol=protocol, max_retries=0),
        }
    )


@pytest.fixture
def spaces() -> Iterator[SpacesClient]:
    client = SpacesClient(
        settings(),
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        fallback_to_base=True,
    )
    yield client
    client.close()


def test_stream_falls_back_before_anything_was_yielded(spaces: SpacesClient) -> None:
    chunks = list(spaces.stream_chunks("hi", "company"))
    assert "".join(c.text for c in chunks) == "from base"
    final = chunks[-1].answer
    assert final is not None and (final.tier, final.fallback_from) == ("base", "company")
    assert "".join(spaces.stream("hi", "company")) == "from base"


async def test_astream_falls_back_too(spaces: SpacesClient) -> None:
    chunks = [c async for c in spaces.astream_chunks("hi", "company")]
    final = chunks[-1].answer
    assert final is not None and final.fallback_from == "company"
    assert "".join([t async for t in spaces.astream("hi", "user")]) == "from base"


def test_a_stream_that_failed_after_yielding_does_not_fall_back() -> None:
    def cut(r: httpx.Request) -> httpx.Response:
        if r.url.host == "acme-co.hf.space":
            part = 'data: {"token": {"text": "half", "special": false}}\n\n'
            return httpx.Response(200, text=part, headers={"content-type": "text/event-stream"})
        return handler(r)

    spaces = SpacesClient(
        settings(),
        http_client=httpx.Client(transport=httpx.MockTransport(cut)),
        fallback_to_base=True,
    )
    got: list[str] = []
    with pytest.raises(SpaceUnavailableError, match="cut after 1 chunk"):
        for text in spaces.stream("hi", "company"):
            got.append(text)
    assert got == ["half"]  # nothing from the base tier was mixed in


def test_structure_and_variations_fall_back(spaces: SpacesClient) -> None:
    idea = spaces.generate_structure("An idea", {"title": "string"}, "company")
    assert idea.title == "Tea"
    texts = spaces.generate_variations("A slogan", 3, "company", seed=10)
    assert texts == ["from base 10", "from base 11", "from base 12"]


async def test_async_structure_and_variations_fall_back(spaces: SpacesClient) -> None:
    idea = await spaces.agenerate_structure("An idea", {"title": "string"}, "company")
    assert idea.title == "Tea"
    texts = await spaces.agenerate_variations("A slogan", 2, "company", seed=1)
    assert texts == ["from base 1", "from base 2"]


def test_bad_input_never_falls_back(spaces: SpacesClient) -> None:
    with pytest.raises(SpaceInputError) as e:
        spaces.generate("", "company")
    assert e.value.tier == "company"


def test_without_fallback_a_stream_failure_is_raised() -> None:
    spaces = SpacesClient(
        settings(), http_client=httpx.Client(transport=httpx.MockTransport(handler))
    )
    with pytest.raises(SpaceUnavailableError, match="HTTP 500"):
        list(spaces.stream("hi", "company"))


# ------------------------------------------------------------------ on_wait, live
@pytest.fixture(scope="module")
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="waits") as s:
        yield s


def sleepy(space: LocalSpace, events: list[WaitEvent]) -> SpacesClient:
    cfg: dict[str, Any] = {"wake_poll_interval": 0.1, "wake_timeout": 10.0}
    tiers = {"base": SpaceConfig(url=space.url, **cfg)}
    return SpacesClient(SpacesSettings(tiers=tiers), on_wait=events.append)


def test_on_wait_sees_a_sleeping_space_wake_up_sync(space: LocalSpace) -> None:
    events: list[WaitEvent] = []
    space.sleep_for(0.5)
    with sleepy(space, events) as spaces:
        assert spaces.generate("Say hi")
    assert events and {e.reason for e in events} == {"waking"}
    assert all(e.tier == "base" and e.url == space.url and e.budget == 10.0 for e in events)
    assert [e.attempt for e in events] == list(range(1, len(events) + 1))
    assert events[-1].elapsed >= events[0].elapsed


async def test_on_wait_sees_a_sleeping_space_wake_up_async(space: LocalSpace) -> None:
    events: list[WaitEvent] = []
    space.sleep_for(0.5)
    spaces = sleepy(space, events)
    async with spaces:
        assert await spaces.agenerate("Say hi")
    assert events and {e.reason for e in events} == {"waking"}
    assert events[0].status_code == 503
