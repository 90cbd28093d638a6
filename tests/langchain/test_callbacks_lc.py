"""Callbacks see the right runs (#15, items 3 and 11).

* ``HuggingFaceSpaceLLM(streaming=True)`` in ``batch``/``abatch``: each prompt's tokens go to
  that prompt's own run (before, all of them went to the first prompt's run).
* The tier router is a named step (``SpaceTierRouter``) in callbacks and ``astream_events``,
  with the tier's model as its child.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler

from langchain_hf_spaces import HuggingFaceSpaceLLM, SpaceConfig, SpacesSettings
from langchain_hf_spaces.testing import LocalSpace
from langchain_hf_spaces.tiers import HuggingFaceSpaces


def words(prompt: str, parameters: dict[str, Any]) -> str:
    return f"alpha {prompt} beta gamma"


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.prompts: dict[UUID, str] = {}
        self.tokens: dict[UUID, list[str]] = defaultdict(list)
        self.starts: list[tuple[str, UUID, UUID | None]] = []

    def on_llm_start(
        self, serialized: dict[str, Any], prompts: list[str], *, run_id: UUID, **kw: Any
    ) -> None:
        self.prompts[run_id] = prompts[0]

    def on_llm_new_token(self, token: str, *, run_id: UUID, **kw: Any) -> None:
        self.tokens[run_id].append(token)

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        name: str | None = None,
        **kw: Any,
    ) -> None:
        self.starts.append((str(name), run_id, parent_run_id))

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kw: Any,
    ) -> None:
        self.starts.append(("chat_model", run_id, parent_run_id))


@pytest.fixture(scope="module")
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="base", responder=words) as s:
        yield s


def _check_per_prompt(rec: Recorder, prompts: list[str]) -> None:
    assert sorted(rec.prompts.values()) == sorted(prompts)
    for run_id, prompt in rec.prompts.items():
        assert len(rec.tokens[run_id]) > 1  # streamed in pieces
        text = "".join(rec.tokens[run_id])
        assert text == f"alpha {prompt} beta gamma", (prompt, text)


PROMPTS = ["one", "two", "three", "four"]


def test_batch_streams_each_prompts_tokens_to_its_own_run(space: LocalSpace) -> None:
    llm = HuggingFaceSpaceLLM(space_url=space.url, protocol="tgi", streaming=True)
    rec = Recorder()
    out = llm.batch(PROMPTS, config={"callbacks": [rec], "max_concurrency": 2})
    assert out == [f"alpha {p} beta gamma" for p in PROMPTS]
    _check_per_prompt(rec, PROMPTS)


def test_abatch_streams_each_prompts_tokens_to_its_own_run(space: LocalSpace) -> None:
    llm = HuggingFaceSpaceLLM(space_url=space.url, protocol="tgi", streaming=True)
    rec = Recorder()
    out = asyncio.run(llm.abatch(PROMPTS, config={"callbacks": [rec]}))
    assert out == [f"alpha {p} beta gamma" for p in PROMPTS]
    _check_per_prompt(rec, PROMPTS)


def test_generate_with_callbacks_per_prompt(space: LocalSpace) -> None:
    llm = HuggingFaceSpaceLLM(space_url=space.url, protocol="tgi", streaming=True)
    rec = Recorder()
    llm.generate(PROMPTS[:2], callbacks=[rec])
    _check_per_prompt(rec, PROMPTS[:2])


@pytest.fixture
def router_spaces(space: LocalSpace) -> Iterator[HuggingFaceSpaces]:
    settings = SpacesSettings(
        tiers={"base": SpaceConfig(url=space.url), "company": SpaceConfig(url=space.url)}
    )
    with HuggingFaceSpaces(settings) as hf:
        yield hf


def test_the_router_is_a_named_run_with_the_model_inside(router_spaces: HuggingFaceSpaces) -> None:
    router = router_spaces.router()
    for call in ("invoke", "stream"):
        rec = Recorder()
        value = {"input": "hi", "tier": "company"}
        if call == "invoke":
            router.invoke(value, config={"callbacks": [rec]})
        else:
            list(router.stream(value, config={"callbacks": [rec]}))
        names = [name for name, _, _ in rec.starts]
        assert names[0] == "SpaceTierRouter", (call, names)
        router_run = rec.starts[0][1]
        model = [s for s in rec.starts if s[0] == "chat_model"]
        assert model, names
        # the model's run descends from the router's
        parents = {run: parent for _, run, parent in rec.starts}
        node: UUID | None = model[0][2]
        while node is not None and node != router_run:
            node = parents.get(node)
        assert node == router_run, (call, names)


def test_the_router_shows_in_astream_events(router_spaces: HuggingFaceSpaces) -> None:
    router = router_spaces.router()

    async def main() -> list[tuple[str, str]]:
        return [
            (e["event"], e["name"])
            async for e in router.astream_events({"input": "hi", "tier": "base"}, version="v2")
        ]

    events = asyncio.run(main())
    assert events[0] == ("on_chain_start", "SpaceTierRouter")
    assert ("on_chain_end", "SpaceTierRouter") in events
    assert any(kind == "on_chat_model_stream" for kind, _ in events)
    rec = Recorder()
    asyncio.run(router.ainvoke({"input": "hi"}, config={"callbacks": [rec]}))
    assert rec.starts[0][0] == "SpaceTierRouter"
