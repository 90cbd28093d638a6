"""Copies of ``HuggingFaceSpaceLLM`` (#15.4): ``copy.deepcopy``, ``copy.copy``, ``pickle`` and
cloudpickle keep every field, the token and what was learnt (limits), never a connection: the
copy builds its own on first use and works against the same Space; a multiprocessing spawn
worker gets a working LLM."""

from __future__ import annotations

import copy
import multiprocessing
import pickle
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import cloudpickle
import httpx
import pytest
from llama_index.core.llms import ChatMessage

from langchain_hf_spaces import SpaceClient, SpaceConfig
from langchain_hf_spaces.testing import LocalSpace, scripted_responder
from llama_index_hf_spaces import HuggingFaceSpaceLLM

TOKEN = "hf_copies_test_token"

COPIERS: dict[str, Callable[[Any], Any]] = {
    "deepcopy": copy.deepcopy,
    "copy": copy.copy,
    "pickle": lambda obj: pickle.loads(pickle.dumps(obj)),  # noqa: S301 - our own bytes
    "cloudpickle": lambda obj: cloudpickle.loads(cloudpickle.dumps(obj)),
}


@pytest.mark.parametrize("how", sorted(COPIERS))
def test_a_copy_keeps_its_fields_and_builds_its_own_client(how: str) -> None:
    with LocalSpace(token=TOKEN, responder=scripted_responder(["one", "two"])) as space:
        cfg = SpaceConfig(url=space.url, protocol="tgi", token=TOKEN, revision="v1")
        llm = HuggingFaceSpaceLLM(
            space=cfg,
            tier="company",
            max_new_tokens=12,
            temperature=0.3,
            chat_template="llama3",
            additional_kwargs={"typical_p": 0.9},
        )
        assert llm.complete("Hi").text == "one"  # the original's pool is open
        llm.load_limits()
        twin = COPIERS[how](llm)
        assert twin is not llm and twin.to_dict() == llm.to_dict()
        assert twin.metadata == llm.metadata  # limits learnt before the copy survive
        messages = [ChatMessage(role="user", content="Hi")]
        assert twin.messages_to_prompt(messages) == llm.messages_to_prompt(messages)
        assert twin.client is not llm.client  # its own connections, built on first use
        reply = twin.chat(messages)
        assert reply.message.content == "two"
        last = space.requests[-1]
        assert last.headers["authorization"] == f"Bearer {TOKEN}"  # the token survived
        assert last.json["parameters"]["typical_p"] == 0.9
        assert "<|eot_id|>" in last.json["parameters"]["stop"]  # the template's markers
        llm.close()
        twin.close()


def test_copies_of_an_llm_over_a_given_client_and_http_client() -> None:
    events: list[Any] = []
    with LocalSpace(responder=scripted_responder(["a", "b"])) as space:
        http = httpx.Client()
        client = SpaceClient(SpaceConfig(url=space.url), tier="user", on_wait=events.append)
        llm = HuggingFaceSpaceLLM(client=client)
        twin = copy.deepcopy(llm)
        assert twin.client is not client and twin.client.tier == "user"
        assert twin.client.on_wait == events.append  # the progress callback came along
        assert twin.complete("x").text == "a"
        own = HuggingFaceSpaceLLM(space=SpaceConfig(url=space.url), http_client=http)
        assert pickle.loads(pickle.dumps(own)).complete("y").text == "b"  # noqa: S301
        http.close()


def test_pickle_does_not_log_dropped_attributes(caplog: pytest.LogCaptureFixture) -> None:
    llm = HuggingFaceSpaceLLM(space=SpaceConfig(url="https://acme-llm.hf.space"))
    pickle.dumps(llm)
    assert "unpickleable" not in caplog.text


def _ask(llm: HuggingFaceSpaceLLM) -> str:
    return llm.complete("from a worker").text


def test_a_spawned_worker_gets_a_working_llm() -> None:
    with LocalSpace(responder=scripted_responder(["from the worker"])) as space:
        llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=space.url))
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            assert pool.submit(_ask, llm).result(timeout=120) == "from the worker"


def test_model_copy_with_a_new_space_calls_that_space() -> None:
    with (
        LocalSpace(responder=scripted_responder(["old"])) as old,
        LocalSpace(responder=scripted_responder(["new"])) as new,
    ):
        llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=old.url))
        assert llm.complete("x").text == "old"
        moved = llm.model_copy(update={"space": SpaceConfig(url=new.url), "max_new_tokens": 5})
        assert moved.complete("x").text == "new"
        assert new.requests[-1].json["parameters"] == {"max_new_tokens": 5}
        assert moved.metadata.model_name == new.url
        llm.close()
        moved.close()
