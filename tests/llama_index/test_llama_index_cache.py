"""``HuggingFaceSpaceLLM(cache=...)``: LlamaIndex users get the package's response cache."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest

from langchain_hf_spaces import (
    MemoryCache,
    SpaceClient,
    SpaceConfig,
    SpaceConfigError,
    SQLiteCache,
)
from langchain_hf_spaces.testing import LocalSpace
from llama_index_hf_spaces import HuggingFaceSpaceLLM


@pytest.fixture(scope="module")
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="llama-cache") as s:
        yield s


def test_repeated_deterministic_completions_come_from_the_cache(
    space: LocalSpace, tmp_path: Path
) -> None:
    cache = SQLiteCache(tmp_path / "c.db")
    config = SpaceConfig(url=space.url, protocol="tgi")
    llm = HuggingFaceSpaceLLM(space=config, cache=cache, additional_kwargs={"seed": 3})
    space.clear_requests()
    first = llm.complete("Name a tea")
    second = llm.complete("Name a tea")
    assert second.text == first.text and second.raw["cached"] is True
    assert "cached" not in first.raw
    assert "".join(r.delta or "" for r in llm.stream_complete("Name a tea")) == first.text
    assert len(space.requests) == 1
    twin = copy.deepcopy(llm)  # a copy builds its client with the same (SQLite) cache
    assert twin.complete("Name a tea").raw["cached"] is True
    assert len(space.requests) == 1


async def test_async_completions_use_the_cache(space: LocalSpace) -> None:
    config = SpaceConfig(url=space.url, protocol="tgi")
    llm = HuggingFaceSpaceLLM(space=config, cache=MemoryCache(), additional_kwargs={"seed": 4})
    first = await llm.acomplete("Name a coffee")
    assert (await llm.acomplete("Name a coffee")).raw["cached"] is True
    assert first.raw.get("cached") is None


def test_a_given_client_keeps_its_own_cache(space: LocalSpace) -> None:
    client = SpaceClient(SpaceConfig(url=space.url))
    with pytest.raises(SpaceConfigError, match="cache= cannot be added"):
        HuggingFaceSpaceLLM(client=client, cache=MemoryCache())
