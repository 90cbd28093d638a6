"""Variations as a Runnable (``with_variations``) and context in LangChain inputs.

Cassettes (``cassettes/test_variations_lc/``) are recorded from LocalSpace; its default
responder answers deterministically from the prompt and the seed, so different seeds give
different answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.prompts import PromptTemplate

from langchain_hf_spaces import SpaceConfig, SpaceInputError, SpaceResponseError, SpacesSettings
from langchain_hf_spaces.chat_models import ChatHuggingFaceSpace
from langchain_hf_spaces.errors import HFSpacesError
from langchain_hf_spaces.llms import HuggingFaceSpaceLLM
from langchain_hf_spaces.testing import ResponderError, demo_responder
from langchain_hf_spaces.tiers import HuggingFaceSpaces

SLOGAN = "Create a product slogan for an eco-friendly water bottle"


def _llm(url: str, **fields: Any) -> HuggingFaceSpaceLLM:
    return HuggingFaceSpaceLLM(space_url=url, max_retries=0, seed=100, **fields)


@pytest.mark.vcr
def test_variations_have_their_own_seeds_and_keep_order(recording_url: Callable[..., Any]) -> None:
    with recording_url(name="company") as (url, space):
        out = _llm(url).with_variations(3, max_concurrency=2).invoke(SLOGAN)
        if space is not None:
            seeds = sorted(r.json["parameters"]["seed"] for r in space.requests)
            assert seeds == [100, 101, 102]
            assert all(r.json["parameters"]["do_sample"] for r in space.requests)
            assert space.peak_concurrency <= 2
    expected = [demo_responder(SLOGAN, {"seed": 100 + i}, name="company") for i in range(3)]
    assert out == expected and len(set(out)) == 3


@pytest.mark.vcr
async def test_variations_in_lcel_async(recording_url: Callable[..., Any]) -> None:
    prompt = PromptTemplate.from_template("Create a product slogan for {product}")
    with recording_url() as (url, _):
        chain = prompt | _llm(url).with_variations(2)
        out = await chain.ainvoke({"product": "an eco-friendly water bottle"})
    assert out == [demo_responder(SLOGAN, {"seed": 100 + i}, name="base") for i in range(2)]


@pytest.mark.vcr
def test_variations_apply_stop_sequences(recording_url: Callable[..., Any]) -> None:
    with recording_url() as (url, _):
        out = _llm(url, stop=["."]).with_variations(2).invoke(SLOGAN)
    full = [demo_responder(SLOGAN, {"seed": 100 + i}, name="base") for i in range(2)]
    assert out == [text.split(".")[0] for text in full]


def _fails_on_seed_101(prompt: str, parameters: dict[str, Any]) -> str:
    if parameters.get("seed") == 101:
        raise ResponderError("model crashed", status=422)
    return demo_responder(prompt, parameters)


@pytest.mark.vcr
def test_return_exceptions_puts_the_typed_error_in_place(
    recording_url: Callable[..., Any],
) -> None:
    with recording_url(responder=_fails_on_seed_101) as (url, _):
        llm = _llm(url)
        out = llm.with_variations(3, return_exceptions=True).invoke(SLOGAN)
        with pytest.raises(HFSpacesError) as info:
            llm.with_variations(3).invoke(SLOGAN)
    assert isinstance(out[0], str) and isinstance(out[2], str)
    assert isinstance(out[1], HFSpacesError) and out[1].url == url
    assert type(info.value) is type(out[1])
    assert not isinstance(out[1], SpaceResponseError) or "422" in str(out[1])


@pytest.mark.vcr
def test_chat_variations_on_a_text_space(recording_url: Callable[..., Any]) -> None:
    with recording_url() as (url, space):
        chat = ChatHuggingFaceSpace(space_url=url, max_retries=0, seed=7)
        out = chat.with_variations(2).invoke(SLOGAN)
        if space is not None:
            assert space.requests[0].json["inputs"].startswith("<|im_start|>user\n" + SLOGAN)
    assert len(out) == 2 and out[0] != out[1]
    assert all(text.startswith("Demo answer from base:") for text in out)


def test_bad_n_is_a_clear_error() -> None:
    llm = _llm("http://127.0.0.1:9")
    with pytest.raises(SpaceInputError, match="at least 1 variation"):
        llm.with_variations(0)
    with pytest.raises(SpaceInputError, match="more than max_n=4"):
        llm.with_variations(5, max_n=4)


# ------------------------------------------------------------------ context
@pytest.mark.vcr
def test_llm_takes_a_context_dict(recording_url: Callable[..., Any]) -> None:
    context = {"industry": "healthcare", "key_features": ["portable", "</context>"]}
    with recording_url() as (url, space):
        text = _llm(url).invoke({"input": "Create a product description", "context": context})
        if space is not None:
            sent = space.requests[0].json["inputs"]
            assert sent.count("</context>") == 1  # the value cannot close the block
            assert sent.endswith("</context>\n\nCreate a product description")
    assert text.startswith("Demo answer from base:")


def test_an_input_dict_without_a_prompt_is_rejected() -> None:
    with pytest.raises(SpaceInputError, match="exactly one of prompt, input"):
        _llm("http://127.0.0.1:9").invoke({"context": {"a": 1}})
    with pytest.raises(SpaceInputError, match="context must be a dict"):
        _llm("http://127.0.0.1:9").invoke({"prompt": "x", "context": "not a dict"})


@pytest.mark.vcr
def test_router_passes_context_to_the_chosen_tier(recording_url: Callable[..., Any]) -> None:
    with recording_url(name="company") as (url, space):
        settings = SpacesSettings(
            tiers={"base": SpaceConfig(url=url), "company": SpaceConfig(url=url)}
        )
        with HuggingFaceSpaces(settings) as spaces:
            router = spaces.router("chat", seed=3)
            reply = router.invoke(
                {"tier": "company", "input": "Describe it", "context": {"industry": "healthcare"}}
            )
        if space is not None:
            sent = space.requests[0].json["inputs"]
            assert sent.startswith("<|im_start|>user\nThe JSON object in the context block")
            assert '"industry": "healthcare"' in sent
    assert reply.response_metadata["tier"] == "company"
