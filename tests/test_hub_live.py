"""The client waits with the Hub's word, live: a LocalSpace asleep, a FakeHub telling its stage.

Both servers run on loopback; ``HF_ENDPOINT`` points at the fake Hub. A paused or crashed
Space fails on its first answer (one request to the Space, no wait), a sleeping one is waited
for with the stage in every wait event, and a Hub that is down changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from langchain_hf_spaces import (
    SpaceClient,
    SpaceConfig,
    SpacePausedError,
    SpaceRuntimeError,
    WaitEvent,
)
from langchain_hf_spaces.testing import FakeHub, LocalSpace

SPACE_ID = "acme/base-llm"
TOKEN = "hf_HUBliveTokenABCDEFGHIJKLMNOPQ"


@pytest.fixture(scope="module")
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="base", token=TOKEN) as s:
        yield s


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, space: LocalSpace) -> Iterator[FakeHub]:
    space.wake()
    space.clear_requests()
    with FakeHub() as fake:
        fake.add_space(SPACE_ID, private=True, token=TOKEN, host=space.url)
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        yield fake
    space.wake()


def client(space: LocalSpace, events: list[WaitEvent] | None = None, **cfg: Any) -> SpaceClient:
    options: dict[str, Any] = {"wake_poll_interval": 0.1, "wake_timeout": 10.0, **cfg}
    config = SpaceConfig(url=space.url, space_id=SPACE_ID, token=TOKEN, **options)
    return SpaceClient(config, on_wait=None if events is None else events.append)


def test_a_paused_space_fails_on_its_first_answer(space: LocalSpace, hub: FakeHub) -> None:
    hub.set_stage(SPACE_ID, "PAUSED")
    space.sleep_for(60)
    with pytest.raises(SpacePausedError, match="Hub stage PAUSED") as caught:
        client(space).generate("Hello")
    assert caught.value.tier == "base" and caught.value.url == space.url
    assert len(space.requests) == 1  # no polling of a Space that will not wake
    [asked] = hub.requests
    assert asked.path == f"/api/spaces/{SPACE_ID}/runtime" and asked.sent_token(TOKEN)


def test_a_crashed_space_fails_with_the_hubs_message(space: LocalSpace, hub: FakeHub) -> None:
    hub.set_stage(SPACE_ID, "RUNTIME_ERROR", error_message="ImportError: no module named torch")
    space.sleep_for(60)
    with pytest.raises(SpaceRuntimeError, match="RUNTIME_ERROR: ImportError") as caught:
        client(space).generate("Hello")
    assert caught.value.stage == "RUNTIME_ERROR" and len(space.requests) == 1


def test_a_sleeping_space_is_waited_for_with_its_stage(space: LocalSpace, hub: FakeHub) -> None:
    hub.set_stage(SPACE_ID, "SLEEPING")
    hub.script(SPACE_ID, [(0.3, "APP_STARTING"), (0.8, "RUNNING")])
    space.sleep_for(1.0)
    events: list[WaitEvent] = []
    assert client(space, events).generate("Hello")
    assert events and {e.reason for e in events} == {"waking"}
    assert events[0].stage == "SLEEPING" and "the request wakes it" in events[0].detail
    # Asked politely: once per HUB_POLL_INTERVAL at most, not once per poll of the Space.
    assert len(hub.requests) < len(events)


def test_when_the_hub_is_down_the_space_is_still_waited_for(
    space: LocalSpace, hub: FakeHub
) -> None:
    hub.down()
    space.sleep_for(0.5)
    events: list[WaitEvent] = []
    assert client(space, events).generate("Hello")
    assert events and all(e.stage is None for e in events)


def test_test_connection_reports_the_stage(space: LocalSpace, hub: FakeHub) -> None:
    hub.add_space(SPACE_ID, private=True, token=TOKEN, host=space.url, hardware="t4-small")
    report = client(space).test_connection()
    assert report.ok and (report.stage, report.hardware) == ("RUNNING", "t4-small")
    runtime = client(space).runtime()
    assert runtime is not None and runtime.gpu and runtime.sleep_time == 172800
    hub.set_stage(SPACE_ID, "PAUSED")
    paused = client(space).test_connection()
    assert not paused.ok and paused.error_type == "SpacePausedError"
    assert paused.stage == "PAUSED"


async def test_async_too(space: LocalSpace, hub: FakeHub) -> None:
    hub.set_stage(SPACE_ID, "BUILD_ERROR", error_message="pip failed")
    space.sleep_for(60)
    with pytest.raises(SpaceRuntimeError, match="BUILD_ERROR: pip failed"):
        await client(space).agenerate("Hello")
    runtime = await client(space).aruntime()
    assert runtime is not None and runtime.stage == "BUILD_ERROR"
