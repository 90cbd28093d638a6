"""The LangChain part of ``make demo``: an LCEL chain through the tier router on every tier,
an agent tool loop against a LocalSpace with scripted answers, and the guide's three "Advanced
Usage" examples in LangChain form (structured output, variations, context).

Called by ``demo.py`` (beside it) with the settings of its local Spaces; run on its own
(``python docs/examples/demo_langchain.py``) it starts two LocalSpaces of its own.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough
from langchain_core.tools import tool

from langchain_hf_spaces.chat_models import ChatHuggingFaceSpace
from langchain_hf_spaces.config import SpacesSettings
from langchain_hf_spaces.llms import HuggingFaceSpaceLLM
from langchain_hf_spaces.tiers import HuggingFaceSpaces

__all__ = ["run"]


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"Sunny, 21 C in {city}"


def run(settings: SpacesSettings) -> None:
    """Print an LCEL chain's answer on every tier, then an agent's tool loop."""
    from langchain.agents import create_agent

    from langchain_hf_spaces.testing import LocalSpace, scripted_responder

    print("\nLangChain: prompt | SpaceTierRouter | StrOutputParser on every tier")
    prompt = ChatPromptTemplate.from_messages([("user", "{question}")])
    with HuggingFaceSpaces(settings) as spaces:
        chain = RunnablePassthrough.assign(messages=prompt) | spaces.router() | StrOutputParser()
        for tier in spaces.tiers:
            answer = chain.invoke({"question": "Suggest a product name.", "tier": tier})
            print(f"  {tier:<12} {answer[:70]}")

    print("\nLangChain agent (create_agent) with a tool, on a text-protocol Space")
    script = [
        '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}',
        "It is sunny and 21 C in Paris.",
    ]
    with LocalSpace(name="agent", responder=scripted_responder(script)) as space:
        agent = create_agent(ChatHuggingFaceSpace(space_url=space.url), tools=[get_weather])
        result = agent.invoke({"messages": [HumanMessage("What is the weather in Paris?")]})
        for message in result["messages"]:
            calls = getattr(message, "tool_calls", None)
            shown = (
                f"tool_calls={calls[0]['name']}({calls[0]['args']})" if calls else message.content
            )
            print(f"  {type(message).__name__:<13} {shown}")

    _advanced(settings)


GUIDE_SCHEMA = {"title": "string", "description": "string", "pros": "string[]", "cons": "string[]"}


def _advanced(settings: SpacesSettings) -> None:
    """The guide's smart garden idea, three slogans on the company tier, and a product
    description with context, through the LangChain classes."""
    import json

    from langchain_hf_spaces.testing import LocalSpace, scripted_responder

    print("\nLangChain: llm.with_structured_output(schema dict), a scripted Space (one re-ask)")
    idea = {
        "title": "GrowBox",
        "description": "A self-watering indoor herb garden with a moisture sensor.",
        "pros": ["no forgotten watering", "fits a windowsill"],
        "cons": ["needs a power socket"],
    }
    script = ["Here is an idea: GrowBox!", json.dumps(idea)]  # the first answer is not JSON
    with LocalSpace(name="structured", responder=scripted_responder(script)) as space:
        llm = HuggingFaceSpaceLLM(space_url=space.url)
        result = llm.with_structured_output(GUIDE_SCHEMA).invoke(
            "Create a product idea for a smart garden device"
        )
        print(f"  title={result.title!r} pros={result.pros} (requests: {len(space.requests)})")

    with HuggingFaceSpaces(settings) as spaces:
        tier = "company" if "company" in spaces.tiers else spaces.settings.default_tier
        print(f"\nLangChain: llm.with_variations(3) on the {tier!r} tier")
        slogans = spaces.llm(tier, max_new_tokens=16).with_variations(3)
        for i, slogan in enumerate(
            slogans.invoke("Create a product slogan for an eco-friendly water bottle"), 1
        ):
            print(f"  Slogan {i}: {slogan}")

        print("\nLangChain: llm.invoke({'prompt': ..., 'context': {...}}) on the base tier")
        context = {
            "industry": "healthcare",
            "targetAudience": "medical professionals",
            "key_features": ["portable", "sterilizable", "long battery life"],
        }
        request: Any = {"prompt": "Create a product description", "context": context}
        text = spaces.llm(spaces.settings.default_tier, max_new_tokens=24).invoke(request)
        print(f"  {text}")


if __name__ == "__main__":  # pragma: no cover - manual run
    from langchain_hf_spaces.config import SpaceConfig
    from langchain_hf_spaces.testing import LocalSpace

    with LocalSpace(name="base") as b, LocalSpace(name="company") as c:
        run(
            SpacesSettings(
                tiers={"base": SpaceConfig(url=b.url), "company": SpaceConfig(url=c.url)}
            )
        )
