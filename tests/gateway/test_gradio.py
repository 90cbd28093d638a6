"""The gateway over a real Gradio app: a ZeroGPU quota error is a 429, X-IP-Token is forwarded,
and a Gradio text endpoint answers chat through the chat template."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from langchain_hf_spaces import SpaceConfig
from tests.gateway.conftest import Stack

USER_TOKEN = "ipt_user_0123456789abcdef"


@pytest.fixture(scope="module")
def gradio_url() -> Iterator[str]:
    from tests.support.gradio_app import running_gradio_app

    with running_gradio_app() as url:
        yield url


def _gateway(started: Stack, url: str) -> openai.OpenAI:
    tiers = {
        name: SpaceConfig(url=url, protocol="gradio", api_name=f"/{api}", max_retries=0)
        for name, api in [("base", "predict"), ("quota", "quota"), ("who", "whoami")]
    }
    return started.openai(started.gateway(started.client(tiers)))


def test_a_spent_zerogpu_quota_is_a_429_with_the_wait(started: Stack, gradio_url: str) -> None:
    sdk = _gateway(started, gradio_url)
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.completions.create(model="quota", prompt="hi")
    assert caught.value.code == "insufficient_quota"
    assert caught.value.response.headers["retry-after"] == str(9 * 60 + 48)
    assert "X-IP-Token" in caught.value.message or "quota" in caught.value.message.lower()


def test_the_callers_ip_token_is_forwarded(started: Stack, gradio_url: str) -> None:
    sdk = _gateway(started, gradio_url)
    reply = sdk.completions.create(
        model="who", prompt="hi", extra_headers={"X-IP-Token": USER_TOKEN}
    )
    assert reply.choices[0].text == f"x-ip-token={USER_TOKEN}"
    assert sdk.completions.create(model="who", prompt="hi").choices[0].text == "x-ip-token="


def test_chat_on_a_gradio_text_endpoint(started: Stack, gradio_url: str) -> None:
    sdk = _gateway(started, gradio_url)
    reply = sdk.chat.completions.create(
        model="base", messages=[{"role": "user", "content": "Tell me about tea"}], max_tokens=8
    )
    assert reply.choices[0].message.content
    assert reply.model_extra is not None
    assert reply.model_extra["hf_spaces"]["protocol"] == "gradio"
    streamed = sdk.chat.completions.create(
        model="base",
        messages=[{"role": "user", "content": "Tell me about tea"}],
        max_tokens=8,
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert text == reply.choices[0].message.content


@pytest.fixture(scope="module")
def chat_app_url() -> Iterator[str]:
    """A ``gr.ChatInterface`` that answers with what it was given (message and history)."""
    import gradio as gr

    from tests.support.gradio_app import _free_port

    def reply(message: str, history: list[dict[str, str]]) -> str:
        turns = [f"{m['role']}:{m['content']}" for m in history]
        return f"history={turns} message={message}"

    demo = gr.ChatInterface(reply)
    port = _free_port()
    demo.queue().launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        demo.close()


def test_a_gradio_chat_app_gets_the_conversation(started: Stack, chat_app_url: str) -> None:
    client = started.client({"base": SpaceConfig(url=chat_app_url, protocol="gradio")})
    sdk = started.openai(started.gateway(client))
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "How are you?"},
    ]
    reply = sdk.chat.completions.create(model="base", messages=messages)  # type: ignore[arg-type]
    content = reply.choices[0].message.content or ""
    # The conversation goes to the app as the gradio protocol sends chat (Gradio 6's endpoint
    # takes no history: the earlier turns come with the message), never through a chat template.
    assert "How are you?" in content
    assert "Hi" in content and "Hello!" in content
    assert "<|im_start|>" not in content
    assert reply.model_extra is not None and reply.model_extra["hf_spaces"]["protocol"] == "gradio"
