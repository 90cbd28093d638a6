"""Our own standard-style suite for HuggingFaceSpaceLLM (LangChain has none for plain LLMs).

Live against LocalSpace on loopback: construction, invoke/stream/async, stop sequences,
callbacks, identifying params, serialisation, cache, and batch concurrency under latency.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.globals import set_llm_cache
from langchain_core.load import dumpd

from langchain_hf_spaces import (
    SpaceClient,
    SpaceConfig,
    SpaceConfigError,
    SpacesDisabledError,
    SpacesSettings,
    SpaceUnavailableError,
)
from langchain_hf_spaces.llms import HuggingFaceSpaceLLM
from langchain_hf_spaces.testing import Fault, LocalSpace, ResponderError
from langchain_hf_spaces.tiers import HuggingFaceSpaces, SpaceTierRouter

TOKEN = "hf_PLANTEDtokenDoNotLeak0123456789"
FAST = {"retry_initial_delay": 0.001, "retry_max_delay": 0.002, "max_retries": 0}


def echo(prompt: str, parameters: dict[str, Any]) -> str:
    return f"echo: {prompt} | STOP here"


@pytest.fixture(scope="module")
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="base", responder=echo) as s:
        yield s


@pytest.fixture
def llm(space: LocalSpace) -> HuggingFaceSpaceLLM:
    space.clear_requests()
    space.clear_faults()
    return HuggingFaceSpaceLLM(space_url=space.url, max_new_tokens=50, temperature=0.5)


def test_construction_forms_resolve_the_same_space(space: LocalSpace) -> None:
    settings = SpacesSettings(tiers={"base": SpaceConfig(url=space.url, revision="r1")})
    by_settings = HuggingFaceSpaceLLM(settings=settings)
    by_config = HuggingFaceSpaceLLM(space=SpaceConfig(url=space.url, revision="r1"))
    by_url = HuggingFaceSpaceLLM(space_url=space.url, revision="r1")
    for llm in (by_settings, by_config, by_url):
        assert (llm.tier, llm.space_url, llm.revision) == ("base", space.url, "r1")
        assert llm.invoke("hi") == "echo: hi | STOP here"


def test_tier_from_env_settings(space: LocalSpace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_SPACES_COMPANY_URL", space.url)
    monkeypatch.setenv("HF_SPACES_BASE_URL", "https://acme-base.hf.space")
    llm = HuggingFaceSpaceLLM(tier="company")
    assert llm.space_url == space.url
    assert llm.invoke("x").startswith("echo: x")
    with pytest.raises(SpaceConfigError, match="'nope' is not configured"):
        HuggingFaceSpaceLLM(tier="nope")


def test_disabled_raises_at_call_time_so_fallbacks_work(space: LocalSpace) -> None:
    settings = SpacesSettings(enabled=False, tiers={"base": SpaceConfig(url=space.url)})
    llm = HuggingFaceSpaceLLM(settings=settings)
    with pytest.raises(SpacesDisabledError, match="HF_SPACES_ENABLED"):
        llm.invoke("hi")
    backup = HuggingFaceSpaceLLM(space_url=space.url)
    assert llm.with_fallbacks([backup]).invoke("hi") == "echo: hi | STOP here"


def test_parameters_reach_the_space(llm: HuggingFaceSpaceLLM, space: LocalSpace) -> None:
    llm.model_kwargs = {"custom": "x"}
    llm.invoke("hi", seed=7, top_k=3)
    params = space.last_request.json["parameters"]  # type: ignore[union-attr]
    assert params == {"max_new_tokens": 50, "temperature": 0.5, "seed": 7, "top_k": 3,
                      "custom": "x"}  # fmt: skip


def test_stop_applied_even_when_space_ignores_it() -> None:
    seen: list[dict[str, Any]] = []

    def deaf(request: httpx.Request) -> httpx.Response:  # a Space that ignores `stop`
        seen.append(json.loads(request.read()))
        return httpx.Response(200, json={"generated_text": "alpha STOP beta"})

    transport = httpx.MockTransport(deaf)
    client = SpaceClient(
        SpaceConfig(url="https://acme-base.hf.space"),
        http_client=httpx.Client(transport=transport),
        async_http_client=httpx.AsyncClient(transport=transport),
    )
    llm = HuggingFaceSpaceLLM(client=client)
    assert llm.invoke("go") == "alpha STOP beta"
    assert llm.invoke("go", stop=["STOP"]) == "alpha "
    assert seen[-1]["parameters"]["stop"] == ["STOP"]
    assert "".join(llm.stream("go", stop=["STOP"])) == "alpha "
    assert asyncio.run(llm.ainvoke("go", stop=["STOP"])) == "alpha "


def test_generation_info_carries_metadata(llm: HuggingFaceSpaceLLM, space: LocalSpace) -> None:
    info = llm.generate(["hi"]).generations[0][0].generation_info
    assert info is not None
    assert info["tier"] == "base" and info["url"] == space.url
    assert info["protocol"] == "generate" and info["attempts"] == 1 and info["latency"] > 0


class Tokens(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens.append(token)


def test_stream_fires_new_token_callbacks(llm: HuggingFaceSpaceLLM) -> None:
    handler = Tokens()
    pieces = list(llm.stream("hi", config={"callbacks": [handler]}))
    assert "".join(pieces) == "echo: hi | STOP here"
    assert "".join(handler.tokens) == "echo: hi | STOP here"


def test_streaming_flag_streams_under_invoke(space: LocalSpace) -> None:
    handler = Tokens()
    llm = HuggingFaceSpaceLLM(space_url=space.url, streaming=True, callbacks=[handler])
    assert llm.invoke("hi") == "echo: hi | STOP here"
    assert "".join(handler.tokens) == "echo: hi | STOP here"


async def test_async_invoke_and_stream(llm: HuggingFaceSpaceLLM) -> None:
    assert await llm.ainvoke("hi") == "echo: hi | STOP here"
    pieces = [p async for p in llm.astream("hi", stop=["STOP"])]
    assert "".join(pieces) == "echo: hi | "


def test_identifying_and_ls_params(llm: HuggingFaceSpaceLLM, space: LocalSpace) -> None:
    ident = llm._identifying_params
    for key in ("tier", "space_url", "endpoint", "revision", "protocol", "temperature"):
        assert key in ident
    ls = llm._get_ls_params(stop=["x"])
    assert ls["ls_provider"] == "huggingface_spaces" and ls["ls_model_type"] == "llm"
    assert ls["ls_temperature"] == 0.5 and ls["ls_max_tokens"] == 50 and ls["ls_stop"] == ["x"]


def test_serialisation_never_writes_the_token(space: LocalSpace) -> None:
    llm = HuggingFaceSpaceLLM(space_url=space.url, api_key=TOKEN)
    text = json.dumps(dumpd(llm))
    assert TOKEN not in text and "HF_TOKEN" in text
    assert TOKEN not in repr(llm)


def test_cache_keys_each_space_separately() -> None:
    with (
        LocalSpace(name="base", responder=echo) as base,
        LocalSpace(name="company", responder=echo) as company,
    ):
        settings = SpacesSettings(
            tiers={"base": SpaceConfig(url=base.url), "company": SpaceConfig(url=company.url)}
        )
        set_llm_cache(InMemoryCache())
        try:
            with HuggingFaceSpaces(settings) as spaces:
                first = spaces.llm("base").invoke("same prompt")
                assert spaces.llm("base").invoke("same prompt") == first
                assert len(base.requests) == 1  # the second call made no HTTP request
                spaces.llm("company").invoke("same prompt")
                assert len(company.requests) == 1  # a different tier is a different key
                assert len(base.requests) == 1
        finally:
            set_llm_cache(None)


def test_batch_runs_concurrently_and_honours_max_concurrency() -> None:
    with LocalSpace(responder=echo) as slow:
        slow.inject(Fault.slow(0.3), times=None)
        llm = HuggingFaceSpaceLLM(space_url=slow.url)
        prompts = [f"p{i}" for i in range(8)]
        assert llm.batch(prompts) == [f"echo: p{i} | STOP here" for i in range(8)]
        assert slow.peak_concurrency == 8
    with LocalSpace(responder=echo) as slow:
        slow.inject(Fault.slow(0.2), times=None)
        llm = HuggingFaceSpaceLLM(space_url=slow.url)
        out = llm.batch(prompts, config={"max_concurrency": 3})
        assert out == [f"echo: p{i} | STOP here" for i in range(8)]
        assert slow.peak_concurrency == 3


async def test_abatch_runs_concurrently_and_honours_max_concurrency() -> None:
    prompts = [f"p{i}" for i in range(6)]
    async with LocalSpace(responder=echo) as slow:
        slow.inject(Fault.slow(0.3), times=None)
        llm = HuggingFaceSpaceLLM(space_url=slow.url)
        assert await llm.abatch(prompts) == [f"echo: p{i} | STOP here" for i in range(6)]
        assert slow.peak_concurrency == 6
        slow.clear_requests()
    async with LocalSpace(responder=echo) as slow:
        slow.inject(Fault.slow(0.2), times=None)
        llm = HuggingFaceSpaceLLM(space_url=slow.url)
        await llm.abatch(prompts, config={"max_concurrency": 2})
        assert slow.peak_concurrency == 2


def picky(prompt: str, parameters: dict[str, Any]) -> str:
    if "bad" in prompt:
        raise ResponderError("down", status=503)
    return f"ok {prompt}"


@pytest.mark.parametrize("use_async", [False, True])
async def test_return_exceptions_gives_typed_errors_in_place(use_async: bool) -> None:
    with LocalSpace(responder=picky) as space:
        llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=space.url, **FAST))
        prompts = ["a", "bad", "c"]
        if use_async:
            out = await llm.abatch(prompts, return_exceptions=True)
        else:
            out = llm.batch(prompts, return_exceptions=True)
    assert out[0] == "ok a" and out[2] == "ok c"
    assert isinstance(out[1], SpaceUnavailableError)
    assert out[1].tier == "base" and out[1].url == space.url


def test_router_routes_by_tier_and_falls_back() -> None:
    with (
        LocalSpace(name="base", responder=echo) as base,
        LocalSpace(name="company", responder=picky) as company,
    ):
        settings = SpacesSettings(
            tiers={
                "base": SpaceConfig(url=base.url),
                "company": SpaceConfig(url=company.url, **FAST),
            }
        )
        with HuggingFaceSpaces(settings) as spaces:
            router = spaces.router("llm")
            assert router.invoke("hello") == "echo: hello | STOP here"
            assert router.invoke({"input": "hello", "tier": "company"}) == "ok hello"
            with pytest.raises(SpaceConfigError, match="'ghost' is not configured"):
                router.invoke({"input": "x", "tier": "ghost"})
            with pytest.raises(SpaceUnavailableError):
                router.invoke({"input": "bad", "tier": "company"})
            fallback = spaces.router("chat", fallback_to_base=True)
            reply = fallback.invoke({"input": "bad", "tier": "company"})
            assert reply.response_metadata["fallback_from"] == "company"
            assert reply.response_metadata["tier"] == "base"
            assert router.batch([{"input": "a", "tier": "company"}, "b"]) == [
                "ok a",
                "echo: b | STOP here",
            ]
            routed = SpaceTierRouter(router.models, route=lambda _: "company")
            assert routed.invoke("z") == "ok z"
            assert asyncio.run(router.ainvoke({"input": "q", "tier": "company"})) == "ok q"
