"""SpaceTierRouter: settings read with no arguments, and fallback to base only on availability.

The fallback is LangChain's ``with_fallbacks(exceptions_to_handle=AVAILABILITY_ERRORS)``; these
tests pin what users see: which errors fall back (each of the tuple, on invoke, ainvoke, stream
and astream), which do not, that a stream falls back only before its first chunk, and that the
answer says where it came from.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

from langchain_hf_spaces import (
    ChatHuggingFaceSpace,
    HFSpacesError,
    HuggingFaceSpaceLLM,
    HuggingFaceSpaces,
    SpaceConfig,
    SpaceConfigError,
    SpaceInputError,
    SpacesSettings,
    SpaceTierRouter,
    SpaceUnavailableError,
)
from langchain_hf_spaces.errors import AVAILABILITY_ERRORS
from langchain_hf_spaces.testing import LocalSpace, ResponderError

FAST = {"retry_initial_delay": 0.001, "retry_max_delay": 0.002, "max_retries": 0}


class Failing(BaseChatModel):
    """A chat model that raises ``error`` (after one chunk when ``partial``)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    error: Exception
    partial: bool = False
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "failing"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls += 1
        if self.partial:
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content="half"))])
        raise self.error

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        self.calls += 1
        if self.partial:
            yield ChatGenerationChunk(message=AIMessageChunk(content="half"))
        raise self.error


@pytest.fixture(scope="module")
def base() -> Iterator[LocalSpace]:
    with LocalSpace(name="base") as space:
        yield space


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No HF_SPACES_* variables and no hf-spaces.toml but the ones a test sets."""
    for name in list(os.environ):
        if name.startswith("HF_SPACES_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def _router(base: LocalSpace, failing: Failing) -> SpaceTierRouter:
    base.clear_requests()
    return SpaceTierRouter(
        {"base": ChatHuggingFaceSpace(space_url=base.url), "company": failing},
        fallback_to_base=True,
    )


def _error(kind: type[HFSpacesError]) -> HFSpacesError:
    return kind("the company Space cannot answer now", tier="company", url="https://c.hf.space")


# ---------------------------------------------------------------------- settings
def test_router_without_arguments_reads_the_environment(
    clean_env: pytest.MonkeyPatch,
) -> None:
    with LocalSpace(name="base") as base, LocalSpace(name="company") as company:
        clean_env.setenv("HF_SPACES_BASE_URL", base.url)
        clean_env.setenv("HF_SPACES_COMPANY_URL", company.url)
        clean_env.setenv("HF_SPACES_DEFAULT_TIER", "company")
        router = SpaceTierRouter()
        assert sorted(router.models) == ["base", "company"]
        assert router.default_tier == "company"
        assert all(isinstance(m, ChatHuggingFaceSpace) for m in router.models.values())
        reply = router.invoke("Hello")  # the default tier from the environment
        assert reply.content.startswith("Demo answer from company:")
        assert reply.response_metadata["url"] == company.url
        assert router.invoke({"input": "Hello", "tier": "base"}).response_metadata["tier"] == "base"
        assert len(base.requests) == 1 and len(company.requests) == 1

        llm_router = SpaceTierRouter(kind="llm", default_tier="base")
        assert all(isinstance(m, HuggingFaceSpaceLLM) for m in llm_router.models.values())
        assert llm_router.invoke("Hi").startswith("Demo answer from base:")


def test_router_without_arguments_and_without_settings_says_what_to_set(
    clean_env: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(SpaceConfigError, match="HF_SPACES_BASE_URL"):
        SpaceTierRouter()


def test_router_from_explicit_settings_and_not_both(base: LocalSpace) -> None:
    settings = SpacesSettings(tiers={"base": SpaceConfig(url=base.url)})
    router = SpaceTierRouter(settings=settings, kind="llm")
    assert router.invoke("x").startswith("Demo answer from base:")
    with pytest.raises(SpaceConfigError, match="not both"):
        SpaceTierRouter(router.models, settings=settings)


# ---------------------------------------------------------------------- fallback
@pytest.mark.parametrize("kind", AVAILABILITY_ERRORS, ids=lambda k: k.__name__)
async def test_each_availability_error_falls_back_to_base(
    base: LocalSpace, kind: type[HFSpacesError]
) -> None:
    failing = Failing(error=_error(kind))
    router = _router(base, failing)
    question = {"input": "Hello", "tier": "company"}

    reply = router.invoke(question)
    assert reply.response_metadata["fallback_from"] == "company"
    assert reply.response_metadata["tier"] == "base"
    reply = await router.ainvoke(question)
    assert reply.response_metadata["fallback_from"] == "company"

    chunks = list(router.stream(question))
    merged = sum(chunks[1:], chunks[0])
    assert merged.content.startswith("Demo answer from base:")
    assert merged.response_metadata["fallback_from"] == "company"  # once, not once per chunk
    assert merged.response_metadata["tier"] == "base"
    achunks = [c async for c in router.astream(question)]
    assert "".join(c.content for c in achunks) == merged.content
    assert achunks[0].response_metadata["fallback_from"] == "company"

    assert failing.calls == 4 and len(base.requests) == 4


@pytest.mark.parametrize("use_stream", [False, True])
def test_an_input_error_does_not_fall_back(base: LocalSpace, use_stream: bool) -> None:
    failing = Failing(error=SpaceInputError("the prompt is too long", tier="company"))
    router = _router(base, failing)
    with pytest.raises(SpaceInputError, match="too long"):
        if use_stream:
            list(router.stream({"input": "Hello", "tier": "company"}))
        else:
            router.invoke({"input": "Hello", "tier": "company"})
    assert failing.calls == 1 and base.requests == []


def test_without_fallback_an_availability_error_is_raised(base: LocalSpace) -> None:
    failing = Failing(error=_error(SpaceUnavailableError))
    router = SpaceTierRouter({"base": ChatHuggingFaceSpace(space_url=base.url), "company": failing})
    base.clear_requests()
    with pytest.raises(SpaceUnavailableError):
        router.invoke({"input": "Hello", "tier": "company"})
    assert base.requests == []


def test_a_stream_falls_back_only_before_its_first_chunk(base: LocalSpace) -> None:
    failing = Failing(error=_error(SpaceUnavailableError), partial=True)
    router = _router(base, failing)
    seen: list[str] = []
    with pytest.raises(SpaceUnavailableError):
        for chunk in router.stream({"input": "Hello", "tier": "company"}):
            seen.append(chunk.content)
    assert seen == ["half"] and base.requests == []


def test_base_unavailable_too_raises_the_chosen_tiers_error() -> None:
    company = _error(SpaceUnavailableError)
    router = SpaceTierRouter(
        {"base": Failing(error=_error(SpaceUnavailableError)), "company": Failing(error=company)},
        fallback_to_base=True,
    )
    with pytest.raises(SpaceUnavailableError) as info:
        router.invoke({"input": "Hello", "tier": "company"})
    assert info.value is company


def test_live_stream_falls_back_from_a_failing_space(base: LocalSpace) -> None:
    def down(prompt: str, parameters: dict[str, Any]) -> str:
        raise ResponderError("down", status=503)

    with LocalSpace(name="company", responder=down) as company:
        settings = SpacesSettings(
            tiers={
                "base": SpaceConfig(url=base.url),
                "company": SpaceConfig(url=company.url, **FAST),
            }
        )
        with HuggingFaceSpaces(settings) as spaces:
            router = spaces.router(fallback_to_base=True)
            chunks = list(router.stream({"input": "Hello", "tier": "company"}))
    assert chunks[0].response_metadata["fallback_from"] == "company"
    assert "".join(c.content for c in chunks).startswith("Demo answer from base:")


# ---------------------------------------------------------------------- call keywords
async def test_call_keywords_reach_the_chosen_model() -> None:
    def echo(prompt: str, parameters: dict[str, Any]) -> str:
        return f"echo: {prompt} | STOP here"

    with LocalSpace(name="base", responder=echo) as space:
        router = SpaceTierRouter({"base": HuggingFaceSpaceLLM(space_url=space.url)})
        assert router.invoke("hi", stop=["STOP"]) == "echo: hi | "
        assert await router.ainvoke("hi", stop=["STOP"]) == "echo: hi | "
        assert "".join(router.stream("hi", stop=["STOP"])) == "echo: hi | "
        assert router.bind(stop=["|"]).invoke("hi") == "echo: hi "
        last = space.last_request
        assert last is not None and last.json["parameters"]["stop"] == ["|"]


def test_each_model_run_is_tagged_with_its_tier(base: LocalSpace) -> None:
    seen: list[str | None] = []

    class Tiers(BaseCallbackHandler):
        def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
            seen.append((kwargs.get("metadata") or {}).get("hf_spaces_tier"))

    router = _router(base, Failing(error=_error(SpaceUnavailableError)))
    router.invoke({"input": "Hello", "tier": "company"}, {"callbacks": [Tiers()]})
    router.invoke("Hello", {"callbacks": [Tiers()]})
    assert seen == ["company", "base", "base"]
