"""ZeroGPU quota errors and the forwarded X-IP-Token, against a real Gradio app.

The app (``tests/support/gradio_app.py``) raises both messages ZeroGPU Spaces send when the
caller's quota is spent, and echoes the ``X-IP-Token`` it received. Recorded (``make
cassettes``) and live.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from langchain_hf_spaces import (
    HuggingFaceSpaceLLM,
    SpaceClient,
    SpaceConfig,
    SpaceInputError,
    SpaceQuotaError,
    SpaceRateLimitError,
)
from langchain_hf_spaces.protocols._zerogpu import parse_quota
from tests.conftest import REPLAY_URL, is_recording

pytestmark = pytest.mark.usefixtures("gradio_sessions")

FAST: dict[str, Any] = {"max_retries": 0}
USER_TOKEN = "ipt_user_0123456789abcdef"


@pytest.fixture(scope="module")
def live_url() -> Iterator[str]:
    from tests.support.gradio_app import running_gradio_app

    with running_gradio_app() as url:
        yield url


@pytest.fixture
def gradio_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if not is_recording(request):
        yield REPLAY_URL
        return
    from tests.support.gradio_app import running_gradio_app

    with running_gradio_app() as url:
        yield url


def make(url: str, api_name: str) -> SpaceClient:
    cfg = SpaceConfig(url=url, protocol="gradio", api_name=api_name, **FAST)
    return SpaceClient(cfg, tier="user")


def test_both_message_forms_parse() -> None:
    from tests.support.gradio_app import QUOTA_MESSAGES

    first, second = (parse_quota(m) for m in QUOTA_MESSAGES)
    assert first is not None and second is not None
    assert (first.seconds_left, first.seconds_requested, first.retry_after) == (46, 60, 588)
    assert (second.seconds_left, second.seconds_requested, second.retry_after) == (56, 60, None)
    assert "<a" not in second.message and "Create a free account to get" in second.message
    assert parse_quota("the model ran out of memory") is None


@pytest.mark.vcr
def test_a_spent_quota_is_a_typed_rate_limit(gradio_url: str) -> None:
    with pytest.raises(SpaceQuotaError) as caught:
        make(gradio_url, "/quota").generate("hi")
    err = caught.value
    assert isinstance(err, SpaceRateLimitError)
    assert (err.retry_after, err.seconds_left, err.seconds_requested) == (588.0, 46.0, 60.0)
    assert "GPU quota" in err.message and "X-IP-Token" in (err.hint or "")
    assert err.tier == "user"


@pytest.mark.vcr
def test_the_anonymous_form_has_no_wait_and_no_html(gradio_url: str) -> None:
    with pytest.raises(SpaceQuotaError) as caught:
        make(gradio_url, "/quota_anonymous").generate("hi")
    assert caught.value.retry_after is None and caught.value.seconds_left == 56
    assert "<a" not in str(caught.value)


@pytest.mark.vcr
def test_the_end_users_ip_token_is_forwarded(gradio_url: str) -> None:
    client = make(gradio_url, "/whoami")
    assert client.generate("hi", x_ip_token=USER_TOKEN) == f"x-ip-token={USER_TOKEN}"
    assert client.generate("hi") == "x-ip-token="


async def test_forwarding_live_sync_async_and_langchain(live_url: str) -> None:
    with pytest.raises(SpaceQuotaError) as spent:
        await make(live_url, "/quota_anonymous").agenerate("hi")
    assert spent.value.seconds_requested == 60 and spent.value.retry_after is None
    client = make(live_url, "/whoami")
    assert (await client.agenerate("hi", x_ip_token=USER_TOKEN)) == f"x-ip-token={USER_TOKEN}"
    assert "".join(client.stream("hi", x_ip_token=USER_TOKEN)) == f"x-ip-token={USER_TOKEN}"
    cfg = SpaceConfig(url=live_url, protocol="gradio", api_name="/whoami", **FAST)
    llm = HuggingFaceSpaceLLM(space=cfg, tier="user")
    # Per request in a chain: config={"configurable": {"x_ip_token": ...}} reaches the model.
    from langchain_core.runnables import RunnableLambda

    chain = RunnableLambda(lambda text: text) | llm
    per_request: Any = {"configurable": {"x_ip_token": USER_TOKEN}}
    assert chain.invoke("hi", config=per_request) == f"x-ip-token={USER_TOKEN}"
    assert llm.invoke("hi", x_ip_token="ipt_other") == "x-ip-token=ipt_other"
    assert llm.invoke("hi") == "x-ip-token="
    from llama_index_hf_spaces import HuggingFaceSpaceLLM as LlamaLLM

    llama = LlamaLLM(space=cfg, tier="user")
    assert llama.complete("hi", x_ip_token=USER_TOKEN).text == f"x-ip-token={USER_TOKEN}"
    await client.aclose()


def test_a_bad_ip_token_is_refused_before_sending() -> None:
    client = make("https://acme-zero.hf.space", "/whoami")
    with pytest.raises(SpaceInputError, match="x_ip_token"):
        client.generate("hi", x_ip_token="line\nbreak")
