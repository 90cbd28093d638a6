"""The Space a model calls is derived from its fields when it is called (#15, item 1).

``configurable_fields``, ``configurable_alternatives``, ``with_config`` and
``model_copy(update=...)`` all call the Space the fields now name, with that tier's token and
timeouts; before, a configurable ``tier`` still called the original Space and any
configurable field on a private tier lost its token (401).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.runnables import ConfigurableField

from langchain_hf_spaces import (
    ChatHuggingFaceSpace,
    HuggingFaceSpaceLLM,
    SpaceConfig,
    SpaceConfigError,
    SpacesSettings,
)
from langchain_hf_spaces.testing import LocalSpace
from langchain_hf_spaces.tiers import HuggingFaceSpaces

COMPANY_TOKEN = "hf_COMPANYtokenDoNotLeak0123456789"


def answer(name: str) -> Any:
    def respond(prompt: str, parameters: dict[str, Any]) -> str:
        return f"{name} t={parameters.get('temperature')}"

    return respond


@pytest.fixture(scope="module")
def spaces() -> Iterator[tuple[LocalSpace, LocalSpace]]:
    with (
        LocalSpace(name="base", responder=answer("base")) as base,
        LocalSpace(name="company", token=COMPANY_TOKEN, responder=answer("company")) as company,
    ):
        yield base, company


@pytest.fixture
def settings(spaces: tuple[LocalSpace, LocalSpace]) -> SpacesSettings:
    base, company = spaces
    base.clear_requests()
    company.clear_requests()
    return SpacesSettings(
        tiers={
            "base": SpaceConfig(url=base.url, max_retries=0),
            "company": SpaceConfig(
                url=company.url, token=COMPANY_TOKEN, read_timeout=7.5, max_retries=0
            ),
        }
    )


def _calls(space: LocalSpace) -> int:
    return sum(1 for r in space.requests if r.method == "POST")


def test_configurable_tier_calls_that_tier_with_its_token(
    spaces: tuple[LocalSpace, LocalSpace], settings: SpacesSettings
) -> None:
    base, company = spaces
    llm = HuggingFaceSpaceLLM(settings=settings).configurable_fields(
        tier=ConfigurableField(id="tier")
    )
    assert llm.invoke("hi").startswith("base")
    text = llm.invoke("hi", config={"configurable": {"tier": "company"}})
    assert text.startswith("company")
    assert _calls(base) == 1 and _calls(company) == 1
    sent = company.last_request
    assert sent is not None and sent.headers["authorization"] == f"Bearer {COMPANY_TOKEN}"


def test_configurable_chat_metadata_names_the_space_called(
    spaces: tuple[LocalSpace, LocalSpace], settings: SpacesSettings
) -> None:
    _, company = spaces
    chat = ChatHuggingFaceSpace(settings=settings).configurable_fields(
        tier=ConfigurableField(id="tier")
    )
    reply = chat.invoke("hi", config={"configurable": {"tier": "company"}})
    assert reply.content.startswith("company")
    assert reply.response_metadata["tier"] == "company"
    assert reply.response_metadata["url"].startswith(company.url)


def test_other_configurable_field_keeps_the_private_tiers_token_and_timeouts(
    spaces: tuple[LocalSpace, LocalSpace], settings: SpacesSettings
) -> None:
    model = HuggingFaceSpaceLLM(settings=settings, tier="company")
    llm = model.configurable_fields(temperature=ConfigurableField(id="temperature"))
    assert llm.invoke("hi", config={"configurable": {"temperature": 0.3}}) == "company t=0.3"
    # the model a configurable call builds has the tier's settings, not a bare URL's
    prepared, _ = llm._prepare({"configurable": {"temperature": 0.3}})  # type: ignore[attr-defined]
    assert isinstance(prepared, HuggingFaceSpaceLLM)
    assert prepared.space_client.config.read_timeout == 7.5
    assert prepared.space_client.config.resolve_token() == COMPANY_TOKEN


def test_with_config_and_configurable_alternatives(
    spaces: tuple[LocalSpace, LocalSpace], settings: SpacesSettings
) -> None:
    base, company = spaces
    chat = ChatHuggingFaceSpace(settings=settings).configurable_fields(
        tier=ConfigurableField(id="tier")
    )
    bound = chat.with_config(configurable={"tier": "company"})
    assert bound.invoke("hi").content.startswith("company")
    alternatives = ChatHuggingFaceSpace(settings=settings).configurable_alternatives(
        ConfigurableField(id="space"),
        default_key="base",
        company=ChatHuggingFaceSpace(settings=settings, tier="company"),
    )
    assert alternatives.invoke("hi").content.startswith("base")
    reply = alternatives.invoke("hi", config={"configurable": {"space": "company"}})
    assert reply.content.startswith("company")
    assert _calls(company) == 2 and _calls(base) == 1


def test_model_copy_update_derives_the_space_again(
    spaces: tuple[LocalSpace, LocalSpace], settings: SpacesSettings
) -> None:
    base, company = spaces
    llm = HuggingFaceSpaceLLM(settings=settings)
    other = llm.model_copy(update={"tier": "company"})
    assert (other.tier, other.space_url) == ("company", company.url)
    assert other.invoke("hi").startswith("company")
    assert llm.invoke("hi").startswith("base")
    # assigning a field works too: the client is derived again on the next call
    llm.tier = "company"
    assert llm.invoke("hi").startswith("company")
    assert _calls(company) == 2 and _calls(base) == 1


def test_configurable_tier_on_the_shared_pool_of_huggingface_spaces(
    spaces: tuple[LocalSpace, LocalSpace], settings: SpacesSettings
) -> None:
    with HuggingFaceSpaces(settings) as hf:
        chat = hf.chat("base").configurable_fields(tier=ConfigurableField(id="tier"))
        reply = chat.invoke("hi", config={"configurable": {"tier": "company"}})
        assert reply.content.startswith("company")
        # the copy took the tier's own client from the shared SpacesClient
        prepared, _ = chat._prepare({"configurable": {"tier": "company"}})  # type: ignore[attr-defined]
        assert prepared.space_client is hf.client.space("company")


def test_copies_share_connections_and_clients(settings: SpacesSettings) -> None:
    llm = HuggingFaceSpaceLLM(settings=settings).configurable_fields(
        temperature=ConfigurableField(id="temperature")
    )
    one, _ = llm._prepare({"configurable": {"temperature": 0.1}})  # type: ignore[attr-defined]
    two, _ = llm._prepare({"configurable": {"temperature": 0.2}})  # type: ignore[attr-defined]
    assert one is not two
    assert one.space_client is two.space_client  # one client, one pool, protocol found once


def test_a_pinned_client_refuses_another_tier(settings: SpacesSettings) -> None:
    from langchain_hf_spaces import SpaceClient

    client = SpaceClient(settings.space("base"), tier="base")
    llm = HuggingFaceSpaceLLM(client=client).configurable_fields(tier=ConfigurableField(id="tier"))
    with pytest.raises(SpaceConfigError, match="does not match the client's tier"):
        llm.invoke("hi", config={"configurable": {"tier": "company"}})
