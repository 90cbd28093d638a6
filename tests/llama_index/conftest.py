"""Fixtures for the LlamaIndex tests: an LLM whose HTTP clients record what they send.

The request hooks run on replay too (vcrpy answers below httpx's hooks), so tests can assert
on the exact JSON the LLM sent in both record and replay modes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from langchain_hf_spaces import SpaceConfig
from llama_index_hf_spaces import HuggingFaceSpaceLLM

FAST: dict[str, Any] = {"retry_initial_delay": 0.01, "wake_poll_interval": 0.1, "max_retries": 0}


class Sent:
    """The JSON bodies of every request the LLM's HTTP clients sent, in order."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.paths: list[str] = []

    def _record(self, request: httpx.Request) -> None:
        self.paths.append(request.url.path)
        content = request.content
        self.bodies.append(json.loads(content) if content else None)

    def sync_hook(self, request: httpx.Request) -> None:
        self._record(request)

    async def async_hook(self, request: httpx.Request) -> None:
        self._record(request)

    @property
    def last(self) -> Any:
        return self.bodies[-1]


@pytest.fixture
def sent() -> Sent:
    return Sent()


@pytest.fixture
def make_llm(sent: Sent) -> Iterator[Callable[..., HuggingFaceSpaceLLM]]:
    """``make_llm(url, protocol="generate", **llm_fields)``: an LLM over hooked clients."""
    clients: list[httpx.Client] = []

    def factory(url: str, protocol: str = "generate", **fields: Any) -> HuggingFaceSpaceLLM:
        cfg: dict[str, Any] = dict(FAST)
        if protocol == "openai":
            cfg["model"] = "local-demo"
        sync = httpx.Client(event_hooks={"request": [sent.sync_hook]})
        clients.append(sync)
        return HuggingFaceSpaceLLM(
            space=SpaceConfig(url=url, protocol=protocol, **cfg),
            http_client=sync,
            async_http_client=httpx.AsyncClient(event_hooks={"request": [sent.async_hook]}),
            **fields,
        )

    yield factory
    for client in clients:
        client.close()
