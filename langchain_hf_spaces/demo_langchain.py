"""The LangChain part of ``make demo``: an LCEL chain through the tier router on every tier,
then an agent tool loop against a LocalSpace with scripted answers."""

from __future__ import annotations

from langchain_core.messages import HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough
from langchain_core.tools import tool

from langchain_hf_spaces.chat_models import ChatHuggingFaceSpace
from langchain_hf_spaces.config import SpacesSettings
from langchain_hf_spaces.runnables import HuggingFaceSpaces

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


if __name__ == "__main__":  # pragma: no cover - manual run
    from langchain_hf_spaces.config import SpaceConfig
    from langchain_hf_spaces.testing import LocalSpace

    with LocalSpace(name="base") as b, LocalSpace(name="company") as c:
        run(
            SpacesSettings(
                tiers={"base": SpaceConfig(url=b.url), "company": SpaceConfig(url=c.url)}
            )
        )
