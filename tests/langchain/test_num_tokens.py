"""``get_num_tokens`` without ``transformers`` (#15, item 11).

By the Space's own tokenizer when it offers one (TGI ``POST /tokenize``), else by
``transformers`` when installed, else an estimate; ``token_count_source`` says which.
Before, it raised ImportError without ``transformers``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from langchain_hf_spaces import ChatHuggingFaceSpace, HuggingFaceSpaceLLM, SpaceClient, SpaceConfig
from langchain_hf_spaces.testing import LocalSpace

LOCAL = "transformers" if importlib.util.find_spec("transformers") else "estimate"


def _tgi(tokenize: bool, seen: list[str]) -> SpaceClient:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/tokenize" and tokenize:
            text = json.loads(request.content)["inputs"]
            tokens = [{"id": i, "text": w} for i, w in enumerate(text.split())]
            return httpx.Response(200, json=tokens)
        return httpx.Response(404, json={"error": "not found"})

    cfg = SpaceConfig(url="http://127.0.0.1:1", protocol="tgi", max_retries=0)
    return SpaceClient(cfg, http_client=httpx.Client(transport=httpx.MockTransport(handle)))


@pytest.mark.parametrize("cls", [HuggingFaceSpaceLLM, ChatHuggingFaceSpace])
def test_the_spaces_tokenizer_counts_when_tgi_offers_it(cls: type[HuggingFaceSpaceLLM]) -> None:
    seen: list[str] = []
    model = cls(client=_tgi(True, seen))
    assert model.token_count_source is None
    assert model.get_num_tokens("one two three four five") == 5
    assert model.token_count_source == "space"
    assert seen == ["/tokenize"]


def test_without_tokenize_it_counts_locally_and_asks_once(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []
    llm = HuggingFaceSpaceLLM(client=_tgi(False, seen))
    caplog.set_level(logging.DEBUG, logger="langchain_hf_spaces")
    first = llm.get_num_tokens("a few words of text here")
    assert first >= 5
    assert llm.token_count_source == LOCAL
    assert llm.get_num_tokens("more words") >= 2
    assert seen == ["/tokenize"]  # the missing route is remembered
    assert sum("counting tokens by" in r.getMessage() for r in caplog.records) == 1


@pytest.fixture(scope="module")
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="base") as s:
        yield s


def test_other_protocols_count_locally(space: LocalSpace) -> None:
    chat = ChatHuggingFaceSpace(space_url=space.url)
    messages_tokens = chat.get_num_tokens("The quick brown fox jumps over the lazy dog")
    assert 9 <= messages_tokens <= 20
    assert chat.token_count_source == LOCAL
    assert not [r for r in space.requests if r.path == "/tokenize"]
