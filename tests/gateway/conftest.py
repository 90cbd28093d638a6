"""The gateway under test: ``LocalSpace`` tiers behind a real gateway server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import openai
import pytest

from langchain_hf_spaces import SpaceConfig, SpacesClient, SpacesSettings
from langchain_hf_spaces.gateway import GatewayServer
from langchain_hf_spaces.testing import LocalSpace

FAST = {"max_retries": 0, "wake_timeout": 0.0, "retry_initial_delay": 0.01}
"""Tier settings that fail at once (no retries, no waiting for a sleeping Space)."""


class Stack:
    """Spaces and gateways started by one test, stopped at its end."""

    def __init__(self, stack: ExitStack) -> None:
        self.stack = stack

    def space(self, **kwargs: Any) -> LocalSpace:
        return self.stack.enter_context(LocalSpace(**kwargs))

    def client(self, tiers: dict[str, SpaceConfig], **kwargs: Any) -> SpacesClient:
        client = SpacesClient(SpacesSettings(tiers=tiers), **kwargs)
        self.stack.callback(client.close)
        return client

    def gateway(self, client: SpacesClient, **options: Any) -> GatewayServer:
        return self.stack.enter_context(GatewayServer(client, **options))

    def openai(self, gateway: GatewayServer, api_key: str = "unused") -> openai.OpenAI:
        sdk = openai.OpenAI(base_url=gateway.base_url, api_key=api_key, max_retries=0)
        self.stack.callback(sdk.close)
        return sdk

    def one(
        self, space: LocalSpace | None = None, *, tier: str = "base", **config: Any
    ) -> tuple[LocalSpace, GatewayServer, openai.OpenAI]:
        """One Space as ``tier`` behind a gateway, and an OpenAI client of it."""
        space = space or self.space()
        options = config.pop("gateway", {})
        client = self.client({tier: SpaceConfig(url=space.url, **config)})
        gateway = self.gateway(client, **options)
        return space, gateway, self.openai(gateway, options.get("api_key") or "unused")


@pytest.fixture
def started() -> Iterator[Stack]:
    with ExitStack() as stack:
        yield Stack(stack)


ToolSpec = dict[str, Any]


def add_tool() -> ToolSpec:
    return {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add two integers.",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                "required": ["a", "b"],
            },
        },
    }
