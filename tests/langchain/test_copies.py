"""Copies of every public object (#15, item 4): ``copy.deepcopy``, ``pickle`` and cloudpickle.

Connections and locks are not copied: the copy makes its own, lazily, on first use. A token
provider survives when it pickles and is refused with a clear error when it does not.
"""

from __future__ import annotations

import asyncio
import copy
import multiprocessing
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import cloudpickle
import pytest

from langchain_hf_spaces import (
    ChatHuggingFaceSpace,
    HuggingFaceSpaceLLM,
    SpaceClient,
    SpaceConfig,
    SpaceConfigError,
    SpacesClient,
    SpacesSettings,
)
from langchain_hf_spaces.testing import LocalSpace
from langchain_hf_spaces.tiers import HuggingFaceSpaces, SpaceTierRouter
from tests.langchain._copies_worker import call_pickled, token_provider

TOKEN = "hf_PROVIDEDtokenDoNotLeak0123456789"


def reply(prompt: str, parameters: dict[str, Any]) -> str:
    return f"answer to {prompt}"


def _pickle(obj: Any) -> Any:
    return pickle.loads(pickle.dumps(obj))  # noqa: S301 - our own pickle, in a test


def _cloudpickle(obj: Any) -> Any:
    return cloudpickle.loads(cloudpickle.dumps(obj))


COPIES: dict[str, Callable[[Any], Any]] = {
    "deepcopy": copy.deepcopy,
    "pickle": _pickle,
    "cloudpickle": _cloudpickle,
}


@pytest.fixture(scope="module")
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="base", token=TOKEN, responder=reply) as s:
        yield s


@pytest.fixture
def settings(space: LocalSpace) -> SpacesSettings:
    cfg = SpaceConfig(url=space.url, max_retries=0).with_token_provider(token_provider)
    return SpacesSettings(tiers={"base": cfg, "company": cfg})


def _objects(settings: SpacesSettings) -> dict[str, Any]:
    hf = HuggingFaceSpaces(settings)
    return {
        "settings": settings,
        "config": settings.space("base"),
        "space_client": SpaceClient(settings.space("base")),
        "spaces_client": SpacesClient(settings),
        "llm": HuggingFaceSpaceLLM(settings=settings, temperature=0.5),
        "chat": ChatHuggingFaceSpace(settings=settings, chat_template="llama3"),
        "spaces_llm": hf.llm("company"),
        "router": hf.router(fallback_to_base=True),
        "huggingface_spaces": hf,
    }


def _call(name: str, obj: Any) -> str:
    if name in ("settings", "config"):
        return "answer to hi" if isinstance(obj, (SpacesSettings, SpaceConfig)) else ""
    if name == "space_client":
        return str(obj.generate("hi"))
    if name == "spaces_client":
        return str(obj.generate("hi", tier="company"))
    if name == "router":
        return str(obj.invoke({"input": "hi", "tier": "company"}).content)
    if name == "huggingface_spaces":
        return str(obj.llm("company").invoke("hi"))
    out = obj.invoke("hi")
    return str(getattr(out, "content", out))


@pytest.mark.parametrize("how", list(COPIES))
def test_every_public_object_copies_and_the_copy_calls_the_space(
    settings: SpacesSettings, how: str
) -> None:
    for name, obj in _objects(settings).items():
        if name not in ("settings", "config"):
            assert _call(name, obj).startswith("answer to"), name  # the original has connections
        clone = COPIES[how](obj)
        assert clone is not obj
        assert _call(name, clone).startswith("answer to"), (name, how)


def test_copies_open_their_own_connections(settings: SpacesSettings) -> None:
    llm = HuggingFaceSpaceLLM(settings=settings)
    llm.invoke("hi")
    clone = copy.deepcopy(llm)
    assert clone.space_client is not llm.space_client
    assert clone.space_client._pool is not llm.space_client._pool
    assert clone.invoke("hi") == llm.invoke("hi")
    llm.close()
    assert clone.invoke("again") == "answer to again"  # closing one leaves the other working


def test_the_copy_keeps_the_fields_and_what_was_learnt(settings: SpacesSettings) -> None:
    client = SpaceClient(settings.space("base").updated(protocol="auto"))
    found = client.resolve_protocol()
    clone = _pickle(client)
    assert clone.protocol == found != "auto"  # no second probe needed
    llm = ChatHuggingFaceSpace(settings=settings, tier="company", temperature=0.25, stop=["x"])
    again = _cloudpickle(llm)
    assert (again.tier, again.temperature, again.stop) == ("company", 0.25, ["x"])
    assert again.chat_template == llm.chat_template


def test_async_calls_on_a_copy(settings: SpacesSettings) -> None:
    llm = HuggingFaceSpaceLLM(settings=settings)

    async def main() -> list[str]:
        first = await llm.ainvoke("one")
        clone = _pickle(llm)
        return [first, await clone.ainvoke("two")]

    assert asyncio.run(main()) == ["answer to one", "answer to two"]


def test_a_token_provider_that_cannot_be_pickled_is_refused_clearly(space: LocalSpace) -> None:
    cfg = SpaceConfig(url=space.url).with_token_provider(lambda: TOKEN)
    llm = HuggingFaceSpaceLLM(space=cfg)
    assert copy.deepcopy(llm).invoke("hi") == "answer to hi"  # deepcopy keeps any provider
    for dumps in (pickle.dumps, cloudpickle.dumps):
        with pytest.raises(SpaceConfigError, match=r"token provider .* cannot be pickled") as info:
            dumps(llm)
        assert "module-level function" in (info.value.hint or "")
        assert TOKEN not in str(info.value)


def test_a_spawned_process_calls_the_space_with_a_pickled_model(settings: SpacesSettings) -> None:
    llm = HuggingFaceSpaceLLM(settings=settings, tier="company")
    assert llm.invoke("first") == "answer to first"  # the parent's pool is in use
    router = SpaceTierRouter(settings=settings, kind="llm")
    blobs = [pickle.dumps(llm), pickle.dumps(router.models["company"])]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = pool.map_async(call_pickled, blobs).get(timeout=60)
    assert results == ["answer to from a worker"] * 2
