"""The ``gradio`` protocol against a real Gradio app (recorded), and live fault cases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from langchain_hf_spaces import (
    SpaceClient,
    SpaceConfig,
    SpaceInputError,
    SpaceResponseError,
)
from tests.conftest import REPLAY_URL, is_recording

FAST: dict[str, Any] = {"retry_initial_delay": 0.01, "max_retries": 0}


@pytest.fixture
def gradio_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A real Gradio app when recording; the replay URL otherwise."""
    if not is_recording(request):
        yield REPLAY_URL
        return
    from tests.support.gradio_app import running_gradio_app

    with running_gradio_app() as url:
        yield url


def make(url: str, **cfg: Any) -> SpaceClient:
    return SpaceClient(SpaceConfig(url=url, protocol="gradio", **{**FAST, **cfg}), tier="user")


@pytest.mark.vcr
def test_complete_maps_parameters_by_name(gradio_url: str) -> None:
    answer = make(gradio_url).complete("tell me a story", max_new_tokens=5)
    assert answer.text == "Gradio answer to: tell me"
    assert answer.protocol == "gradio"


@pytest.mark.vcr
def test_stream_yields_generating_events_as_deltas(gradio_url: str) -> None:
    chunks = list(make(gradio_url).stream("one two three", max_new_tokens=6))
    assert len(chunks) >= 3
    assert "".join(chunks) == "Gradio answer to: one two three"


@pytest.mark.vcr
async def test_async_complete(gradio_url: str) -> None:
    answer = await make(gradio_url).acomplete("async please", max_new_tokens=4)
    assert answer.text == "Gradio answer to: async"


@pytest.mark.vcr
def test_app_error_event_is_a_typed_error(gradio_url: str) -> None:
    with pytest.raises(SpaceResponseError, match="ran out of memory") as info:
        make(gradio_url, api_name="/fail").generate("x")
    assert info.value.tier == "user"


@pytest.mark.vcr
def test_unknown_api_name_is_named(gradio_url: str) -> None:
    with pytest.raises(SpaceInputError, match=r"no API named '/nope'.*/predict"):
        make(gradio_url, api_name="nope").generate("x")


@pytest.mark.vcr
def test_parameter_without_input_is_refused(gradio_url: str) -> None:
    with pytest.raises(SpaceInputError, match="no input for seed"):
        make(gradio_url).generate("x", seed=3)


@pytest.mark.vcr
def test_auto_detects_gradio(gradio_url: str) -> None:
    client = SpaceClient(SpaceConfig(url=gradio_url, protocol="auto", **FAST))
    assert client.generate("hello", max_new_tokens=3) == "Gradio answer to:"
    assert client.protocol == "gradio"


def test_api_without_text_input_is_a_clear_error() -> None:
    from langchain_hf_spaces.protocols import GradioProtocol, ProtocolError

    proto = GradioProtocol(SpaceConfig(url="https://a-b.hf.space", protocol="gradio"))
    info = (
        b'{"named_endpoints": {"/predict": {"parameters": [{"parameter_name": "image", '
        b'"component": "Image", "python_type": {"type": "filepath"}}]}}}'
    )
    with pytest.raises(ProtocolError, match="no text input"):
        proto.setup(info)


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
            make(url).generate("one more", max_new_tokens=3)
        assert info.value.status_code == 503 and info.value.tier == "user"
