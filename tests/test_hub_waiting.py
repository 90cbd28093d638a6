"""Waiting on a 502/503 asks the Hub for the Space's stage: stepped by hand, no socket.

(The same against a fake Hub served on loopback is in ``tests/test_fake_hub*.py``.)
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from langchain_hf_spaces import (
    SpaceConfig,
    SpacePausedError,
    SpaceRuntimeError,
    SpaceUnavailableError,
)
from langchain_hf_spaces._hub import HubWatch, parse_ratelimit_reset, parse_runtime
from langchain_hf_spaces._policy import Failed, exchange
from tests.test_flow import HTML_SLEEPING, TOKEN, URL, FakeClock, Script, ok, raw

HUB = "https://hub.test"
RUNTIME_URL = f"{HUB}/api/spaces/acme/llm/runtime"


def runtime(stage: str, hardware: str = "cpu-basic", **extra: Any) -> Any:
    body = {"stage": stage, "hardware": {"current": hardware, "requested": hardware}, **extra}
    return ok(body)


def asleep() -> Any:
    return raw(503, HTML_SLEEPING, **{"content-type": "text/html"})


def cfg(**kw: Any) -> SpaceConfig:
    return SpaceConfig(url=URL, token=TOKEN, wake_poll_interval=1.0, **kw)


def run(config: SpaceConfig, answers: list[Any], clock: FakeClock) -> tuple[Any, Script, HubWatch]:
    """One exchange with the Hub watch the client gives a Space whose id is known."""
    hub = HubWatch("acme/llm", endpoint=HUB)
    script = Script(answers, clock)
    flow = exchange(
        config,
        tier="base",
        method="POST",
        url=config.url + "/api/generate",
        body={"inputs": "hi"},
        headers={"authorization": f"Bearer {TOKEN}"},
        clock=clock,
        hub=hub,
    )
    return script.run(flow), script, hub


def test_a_paused_space_fails_at_once() -> None:
    clock = FakeClock()
    with pytest.raises(SpacePausedError, match="Hub stage PAUSED") as caught:
        run(cfg(), [asleep(), runtime("PAUSED")], clock)
    assert isinstance(caught.value, SpaceUnavailableError) and caught.value.tier == "base"
    assert clock.now == 1000.0  # no wait at all


def test_a_crashed_space_fails_with_the_hubs_message() -> None:
    answers = [asleep(), runtime("RUNTIME_ERROR", errorMessage="ModuleNotFoundError: torch")]
    with pytest.raises(SpaceRuntimeError, match="RUNTIME_ERROR: ModuleNotFoundError") as caught:
        run(cfg(), answers, FakeClock())
    assert caught.value.stage == "RUNTIME_ERROR"
    assert caught.value.error_message == "ModuleNotFoundError: torch"


def test_the_hub_is_asked_politely_while_the_space_wakes() -> None:
    clock = FakeClock()
    # The Space answers 503 for 12 polls of 1 s; the Hub is asked every 5 s at most.
    answers: list[Any] = []
    for i in range(12):
        answers.append(asleep())
        if i % 5 == 0:
            answers.append(runtime("SLEEPING" if i == 0 else "APP_STARTING"))
    answers.append(ok({"generated_text": "awake"}))
    _, script, _ = run(cfg(), answers, clock)
    hub_asks = [s for s in script.sent if s.url == RUNTIME_URL]
    assert len(hub_asks) == 3
    assert all(s.timeout is not None and s.timeout <= 5 for s in hub_asks)
    assert hub_asks[0].headers == {"authorization": f"Bearer {TOKEN}"}  # private Spaces too
    stages = [e.stage for e in script.events]
    assert stages[0] == "SLEEPING" and stages[-1] == "APP_STARTING"
    assert "the request wakes it" in script.events[0].detail


def test_a_rate_limited_hub_is_left_alone_until_its_reset() -> None:
    clock = FakeClock()
    limited = raw(429, b'{"error": "rate limited"}', ratelimit='"api";r=0;t=8')
    answers: list[Any] = [asleep(), limited]
    answers += [asleep() for _ in range(8)]
    answers += [runtime("APP_STARTING"), asleep(), ok({"generated_text": "x"})]
    _, script, _ = run(cfg(), answers, clock)
    asks = [i for i, s in enumerate(script.sent) if s.url == RUNTIME_URL]
    assert len(asks) == 2 and script.events[-1].stage == "APP_STARTING"


def test_when_the_hub_is_down_the_heuristics_carry_on() -> None:
    clock = FakeClock()
    answers = [asleep(), Failed("connect", "ConnectError"), asleep(), ok({"generated_text": "x"})]
    outcome, script, hub = run(cfg(), answers, clock)
    assert outcome.received.status == 200
    assert hub.runtime is None and all(e.stage is None for e in script.events)


def test_a_gpu_space_gets_the_longer_default_wait() -> None:
    clock = FakeClock()
    answers: list[Any] = [asleep(), runtime("APP_STARTING", hardware="t4-small")]
    answers += [asleep() for _ in range(3)]
    answers.append(ok({"generated_text": "x"}))
    _, script, _ = run(cfg(), answers, clock)
    assert {e.budget for e in script.events} == {900.0}
    # An explicit wake_timeout is kept.
    answers = [asleep(), runtime("APP_STARTING", hardware="t4-small"), asleep()]
    answers.append(ok({"generated_text": "x"}))
    _, script, _ = run(cfg(wake_timeout=60), answers, FakeClock())
    assert {e.budget for e in script.events} == {60.0}


def test_runtime_and_ratelimit_parsing() -> None:
    body = json.dumps(
        {
            "stage": "sleeping",
            "hardware": {"current": None, "requested": "a10g-small"},
            "gcTimeout": 3600,
        }
    ).encode()
    parsed = parse_runtime(body)
    assert parsed is not None and parsed.stage == "SLEEPING" and parsed.gpu
    assert parsed.sleep_time == 3600 and parsed.hardware is None
    assert parse_runtime(b"<html>") is None and parse_runtime(b'{"stage": 3}') is None
    assert parse_ratelimit_reset({"ratelimit": '"api";r=0;t=55'}) == 55.0
    assert parse_ratelimit_reset({}) is None
