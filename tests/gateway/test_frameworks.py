"""Agent frameworks that speak the OpenAI API, running tool loops through the gateway.

smolagents' ``ToolCallingAgent`` over ``OpenAIServerModel`` and pydantic-ai's ``Agent`` over
``OpenAIChatModel``, each against a scripted ``LocalSpace`` speaking a text protocol (the tool
prompt protocol) and the ``openai`` protocol (native tool calls).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import BaseModel

from langchain_hf_spaces.testing import scripted_responder
from tests.gateway.conftest import Stack


def _call(name: str, arguments: dict[str, Any], native: bool) -> str | dict[str, Any]:
    call = {"tool_calls": [{"name": name, "arguments": arguments}]}
    return call if native else json.dumps(call)


@pytest.mark.parametrize("protocol", ["generate", "openai"])
def test_smolagents_tool_calling_agent(started: Stack, protocol: str) -> None:
    from smolagents import OpenAIServerModel, ToolCallingAgent, tool

    @tool
    def get_weather(city: str) -> str:
        """Current weather for a city.

        Args:
            city: the city's name.
        """
        return f"Sunny, 21 C in {city}"

    native = protocol == "openai"
    script = scripted_responder(
        [
            _call("get_weather", {"city": "Paris"}, native),
            _call("final_answer", {"answer": "Sunny and 21 C in Paris."}, native),
        ]
    )
    space, gateway, _ = started.one(started.space(responder=script), protocol=protocol)
    model = OpenAIServerModel(model_id="base", api_base=gateway.base_url, api_key="unused")
    agent = ToolCallingAgent(tools=[get_weather], model=model, max_steps=4, verbosity_level=0)
    assert agent.run("What is the weather in Paris?") == "Sunny and 21 C in Paris."
    assert len(script.calls) == 2
    second = script.calls[1][0]
    assert "Sunny, 21 C in Paris" in second  # the tool really ran, its result went back
    if native:
        sent = [r.json for r in space.requests if r.path == "/v1/chat/completions"]
        assert {t["function"]["name"] for t in sent[0]["tools"]} == {"get_weather", "final_answer"}
        assert sent[0]["tool_choice"] == "required"
    else:
        first = script.calls[0][0]
        assert "You must call at least one tool" in first
        assert '"name": "final_answer"' in first


@pytest.mark.parametrize("protocol", ["generate", "openai"])
def test_pydantic_ai_agent_with_a_tool(started: Stack, protocol: str) -> None:
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    native = protocol == "openai"
    script = scripted_responder(
        [_call("get_weather", {"city": "Paris"}, native), "It is sunny and 21 C in Paris."]
    )
    _, gateway, _ = started.one(started.space(responder=script), protocol=protocol)
    provider = OpenAIProvider(base_url=gateway.base_url, api_key="unused")
    agent = Agent(OpenAIChatModel("base", provider=provider))
    seen: list[str] = []

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        seen.append(city)
        return f"Sunny, 21 C in {city}"

    result = agent.run_sync("What is the weather in Paris?")
    assert result.output == "It is sunny and 21 C in Paris."
    assert seen == ["Paris"]
    assert "Sunny, 21 C in Paris" in script.calls[1][0]


def test_pydantic_ai_structured_output_async(started: Stack) -> None:
    """pydantic-ai's default structured output is a forced tool call: on a text Space too."""
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    class City(BaseModel):
        name: str
        country: str

    script = scripted_responder(
        [_call("final_result", {"name": "Paris", "country": "France"}, native=False)]
    )
    _, gateway, _ = started.one(started.space(responder=script))
    provider = OpenAIProvider(base_url=gateway.base_url, api_key="unused")
    agent = Agent(OpenAIChatModel("base", provider=provider), output_type=City)

    async def run() -> City:
        result = await agent.run("The capital of France?")
        return result.output

    assert asyncio.run(run()) == City(name="Paris", country="France")
    assert '"name": "final_result"' in script.calls[0][0]
