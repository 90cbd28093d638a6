"""The ``gradio`` protocol live against a real Gradio 6 app (the dev extra's), with fault cases.

Every Gradio version and app shape is covered, recorded, in ``tests/gradio/``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from langchain_hf_spaces import (
    SpaceClient,
    SpaceConfig,
    SpaceInputError,
    SpaceResponseError,
)

FAST: dict[str, Any] = {"retry_initial_delay": 0.01, "max_retries": 0}


@pytest.fixture(scope="module")
def gradio_url() -> Iterator[str]:
    """A real Gradio app (the dev extra's gradio 6), live on loopback for the whole module."""
    from tests.support.gradio_app import running_gradio_app

    with running_gradio_app() as url:
        yield url


def make(url: str, **cfg: Any) -> SpaceClient:
    """A client of the app's /predict API (the app has two: /predict and /fail)."""
    options = {**FAST, "api_name": "/predict", **cfg}
    return SpaceClient(SpaceConfig(url=url, protocol="gradio", **options), tier="user")


def test_complete_maps_parameters_by_name(gradio_url: str) -> None:
    answer = make(gradio_url).complete("tell me a story", max_new_tokens=5)
    assert answer.text == "Gradio answer to: tell me"
    assert answer.protocol == "gradio"


def test_stream_yields_generating_events_as_deltas(gradio_url: str) -> None:
    chunks = list(make(gradio_url).stream("one two three", max_new_tokens=6))
    assert len(chunks) >= 3
    assert "".join(chunks) == "Gradio answer to: one two three"


async def test_async_complete_and_stream(gradio_url: str) -> None:
    client = make(gradio_url)
    answer = await client.acomplete("async please", max_new_tokens=4)
    assert answer.text == "Gradio answer to: async"
    chunks = [c async for c in client.astream("async please", max_new_tokens=4)]
    assert len(chunks) >= 2 and "".join(chunks) == "Gradio answer to: async"
    await client.aclose()


def test_app_error_keeps_its_message(gradio_url: str) -> None:
    with pytest.raises(SpaceResponseError, match="raised an error: the model ran out of memory"):
        make(gradio_url, api_name="/fail").generate("x")


def test_without_api_name_the_candidates_are_listed(gradio_url: str) -> None:
    with pytest.raises(SpaceInputError, match=r"several APIs .*/predict\(prompt.*/fail\(prompt"):
        make(gradio_url, api_name=None).generate("x")


def test_unknown_api_name_is_named(gradio_url: str) -> None:
    with pytest.raises(SpaceInputError, match=r"no API named '/nope'.*/predict"):
        make(gradio_url, api_name="nope").generate("x")


def test_parameter_without_input_is_refused(gradio_url: str) -> None:
    with pytest.raises(SpaceInputError, match="no input for seed"):
        make(gradio_url, api_name="/predict").generate("x", seed=3)


def test_auto_detects_gradio(gradio_url: str) -> None:
    cfg = SpaceConfig(url=gradio_url, protocol="auto", api_name="/predict", **FAST)
    client = SpaceClient(cfg)
    assert client.generate("hello", max_new_tokens=3) == "Gradio answer to:"
    assert client.protocol == "gradio"


def test_api_without_text_input_is_a_clear_error() -> None:
    from langchain_hf_spaces.protocols import GradioProtocol, ProtocolError

    proto = GradioProtocol(SpaceConfig(url="https://a-b.hf.space", protocol="gradio"))
    config = {
        "version": "5.50.0",
        "protocol": "sse_v3",
        "components": [{"id": 1, "type": "image", "props": {"label": "photo"}}],
        "dependencies": [{"id": 0, "api_name": "predict", "show_api": True, "inputs": [1]}],
    }
    with pytest.raises(ProtocolError, match=r"no API that takes a text message"):
        proto.setup(json.dumps(config).encode())


def test_the_queue_position_reaches_on_wait_live() -> None:
    """Three calls at once on an app that runs one at a time: the third hears its position
    (Gradio counts from 0 among the waiting calls, so it is second in line)."""
    import threading

    from langchain_hf_spaces import WaitEvent
    from tests.support.gradio_app import running_gradio_app

    events: list[WaitEvent] = []
    with running_gradio_app(slow=0.8) as url:
        earlier = [
            threading.Thread(target=lambda: make(url, api_name="/predict").generate("a"))
            for _ in range(2)
        ]
        for thread in earlier:
            thread.start()
            time.sleep(0.2)
        client = SpaceClient(
            SpaceConfig(url=url, protocol="gradio", api_name="/predict", **FAST),
            on_wait=events.append,
        )
        assert client.generate("b", max_new_tokens=2) == "Gradio answer"
        for thread in earlier:
            thread.join()
    queued = [e for e in events if e.reason == "queued"]
    assert queued and queued[0].detail.startswith("position 2 of")


def test_queue_full_is_a_rate_limit_error_live() -> None:
    """Against a real Gradio app whose queue holds one call: the third concurrent call is
    refused with Gradio's 503 "Queue is full", which becomes a typed rate-limit error."""
    import httpx

    from langchain_hf_spaces import SpaceRateLimitError
    from tests.support.gradio_app import running_gradio_app

    with running_gradio_app(slow=1.5, queue_size=1) as url:
        with httpx.Client() as raw:  # fill the queue: one call running, one waiting
            for _ in range(2):
                raw.post(url + "/gradio_api/call/predict", json={"data": ["x", 4, 0.5]})
        with pytest.raises(SpaceRateLimitError, match="queue is full") as info:
            make(url, api_name="/predict").generate("one more", max_new_tokens=3)
        assert info.value.status_code == 503 and info.value.tier == "user"


def test_test_connection_works_on_an_app_without_a_token_limit(gradio_url: str) -> None:
    """A Gradio endpoint with only a message input: Test Connection sends no max_new_tokens."""
    report = make(gradio_url, api_name="/whoami").test_connection()
    assert report.ok and report.sample == "x-ip-token="
    assert make(gradio_url).test_connection().ok  # /predict takes max_new_tokens: still sent
