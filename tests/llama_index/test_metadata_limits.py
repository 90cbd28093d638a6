"""``metadata`` is pure (#15.10): no request, ever, also from ``acomplete`` (whose callbacks
read it); the limits come from fields or from an explicit ``load_limits()`` /
``aload_limits()``, asked once."""

from __future__ import annotations

import httpx
import pytest
from llama_index.core.constants import DEFAULT_CONTEXT_WINDOW, DEFAULT_NUM_OUTPUTS

from langchain_hf_spaces import SpaceConfig, SpaceUnavailableError
from langchain_hf_spaces.testing import Fault, LocalSpace, scripted_responder
from llama_index_hf_spaces import HuggingFaceSpaceLLM


async def test_metadata_and_acomplete_never_ask_info() -> None:
    with LocalSpace(responder=scripted_responder(["Hi."])) as space:
        llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=space.url, protocol="tgi"))
        meta = llm.metadata
        assert space.requests == []  # reading metadata opened no connection
        assert (await llm.acomplete("Hello")).text == "Hi."
        assert [r.path for r in space.requests] == ["/generate"]
        assert meta.context_window == DEFAULT_CONTEXT_WINDOW
        assert meta.num_output == DEFAULT_NUM_OUTPUTS
        await llm.aclose()


def test_metadata_of_a_sleeping_space_does_not_wait() -> None:
    with LocalSpace() as space:
        space.inject(Fault.sleeping(form="json", estimated_time=1), times=100)
        cfg = SpaceConfig(url=space.url, protocol="tgi", wake_timeout=0.3, wake_poll_interval=0.1)
        llm = HuggingFaceSpaceLLM(space=cfg)
        assert llm.metadata.model_name == space.url
        assert space.requests == []
        with pytest.raises(SpaceUnavailableError) as info:
            llm.load_limits()  # the explicit call does wait, and says why it failed
        assert info.value.url == space.url and space.requests
        llm.close()


async def test_aload_limits_reads_info_once() -> None:
    with LocalSpace() as space:
        info = httpx.get(f"{space.url}/info").json()
        before = len(space.requests)
        llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=space.url, protocol="tgi"))
        meta = await llm.aload_limits()
        assert meta.context_window == info["max_total_tokens"]
        assert meta.num_output == info["max_total_tokens"] - info["max_input_tokens"]
        await llm.aload_limits()
        llm.load_limits()
        assert [r.path for r in space.requests[before:]] == ["/info"]
        assert llm.metadata == meta
        await llm.aclose()


def test_limits_of_a_space_without_info_are_the_defaults() -> None:
    with LocalSpace() as space:
        llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=space.url), max_new_tokens=50)
        meta = llm.load_limits()  # the generate protocol has no /info
        assert (meta.context_window, meta.num_output) == (DEFAULT_CONTEXT_WINDOW, 50)
        assert space.requests == []
