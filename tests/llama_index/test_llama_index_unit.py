"""HuggingFaceSpaceLLM without the wire: construction, LlamaIndex's checks for LLM classes
(serialisation, class_name, BaseLLM), metadata, bad input and the disabled switch."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.base import BaseLLM
from llama_index.core.base.llms.types import ImageBlock, TextBlock
from llama_index.core.constants import DEFAULT_CONTEXT_WINDOW, DEFAULT_NUM_OUTPUTS
from llama_index.core.llms import LLM, ChatMessage, MessageRole
from pydantic import ValidationError

from langchain_hf_spaces import (
    SpaceClient,
    SpaceConfig,
    SpaceConfigError,
    SpaceInputError,
    SpacesDisabledError,
    SpacesSettings,
)
from langchain_hf_spaces.testing import LocalSpace
from llama_index_hf_spaces import HuggingFaceSpaceLLM
from llama_index_hf_spaces.base import limits_from_info
from tests.conftest import PLANTED_TOKEN

URL = "https://acme-base-llm.hf.space"


@pytest.fixture(autouse=True)
def _no_settings_from_outside(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("HF_SPACES_") or name == "HF_TOKEN":
            monkeypatch.delenv(name)


def test_is_a_llama_index_llm() -> None:
    assert BaseLLM in HuggingFaceSpaceLLM.__mro__ and LLM in HuggingFaceSpaceLLM.__mro__
    assert HuggingFaceSpaceLLM.class_name() == "HuggingFaceSpaceLLM"


def test_to_dict_from_dict_round_trip_without_token(monkeypatch: pytest.MonkeyPatch) -> None:
    space = SpaceConfig(url=URL, token=PLANTED_TOKEN, revision="v3", token_env="ACME_TOKEN")
    llm = HuggingFaceSpaceLLM(space=space, tier="company", max_new_tokens=99, temperature=0.3)
    data = llm.to_dict()
    assert data["class_name"] == "HuggingFaceSpaceLLM"
    dumped = json.dumps(data)  # JSON-safe
    assert PLANTED_TOKEN not in dumped and PLANTED_TOKEN not in llm.to_json()
    assert PLANTED_TOKEN not in repr(llm) and PLANTED_TOKEN not in str(llm.to_payload())
    monkeypatch.setenv("ACME_TOKEN", "hf_from_env")
    restored = HuggingFaceSpaceLLM.from_dict(json.loads(dumped))
    assert restored.tier == "company"
    assert restored.space is not None and restored.space.url == URL
    assert restored.space.revision == "v3" and restored.space.token is None
    assert restored.max_new_tokens == 99 and restored.temperature == 0.3
    # The restored LLM takes its token from the environment, as its settings say.
    assert restored.client.config.resolve_token() == "hf_from_env"
    assert restored.to_dict() == data


def test_from_tier_reads_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_SPACES_BASE_URL", URL)
    monkeypatch.setenv("HF_SPACES_ABSTRACTION_URL", "https://huggingface.co/spaces/Acme/Abs_LLM")
    monkeypatch.setenv("HF_SPACES_ABSTRACTION_REVISION", "abc123")
    llm = HuggingFaceSpaceLLM(tier="abstraction")
    assert llm.tier == "abstraction" and llm.client.tier == "abstraction"
    assert llm.metadata.model_name == "https://acme-abs-llm.hf.space@abc123"
    assert HuggingFaceSpaceLLM().tier == "base"


def test_from_settings_and_tier() -> None:
    settings = SpacesSettings(
        default_tier="company",
        tiers={
            "base": SpaceConfig(url=URL),
            "company": SpaceConfig(url="https://acme-co.hf.space"),
        },
    )
    assert HuggingFaceSpaceLLM(settings=settings).metadata.model_name == "https://acme-co.hf.space"
    assert HuggingFaceSpaceLLM("base", settings=settings).space == settings.space("base")


def test_from_a_client_shares_it() -> None:
    client = SpaceClient(SpaceConfig(url=URL), tier="user")
    llm = HuggingFaceSpaceLLM(client=client)
    assert llm.client is client and llm.tier == "user"


def test_unknown_tier_and_ambiguous_sources_are_config_errors() -> None:
    settings = SpacesSettings(tiers={"base": SpaceConfig(url=URL)})
    with pytest.raises(SpaceConfigError, match="'company' is not configured"):
        HuggingFaceSpaceLLM("company", settings=settings)
    with pytest.raises(SpaceConfigError, match="not settings and space"):
        HuggingFaceSpaceLLM(settings=settings, space=SpaceConfig(url=URL))
    with pytest.raises(SpaceConfigError, match="neither a preset"):
        HuggingFaceSpaceLLM(space=SpaceConfig(url=URL), chat_template="no-such-template")


def test_bounded_fields_reject_bad_values() -> None:
    bad = [
        ("max_new_tokens", 0),
        ("temperature", -1),
        ("top_p", 1.5),
        ("top_k", 0),
        ("repetition_penalty", 0),
        ("seed", -1),
    ]
    for field, value in bad:
        with pytest.raises(ValidationError, match=field):
            HuggingFaceSpaceLLM(space=SpaceConfig(url=URL), **{field: value})


def test_seed_has_the_shared_lower_bound() -> None:
    """The bounds come from langchain_hf_spaces._params, as for the client and LangChain."""
    with pytest.raises(ValidationError) as info:
        HuggingFaceSpaceLLM(space=SpaceConfig(url=URL), seed=-1)
    (error,) = info.value.errors()
    assert error["loc"] == ("seed",) and error["type"] == "greater_than_equal"
    assert error["ctx"] == {"ge": 0}
    assert HuggingFaceSpaceLLM(space=SpaceConfig(url=URL), seed=0).seed == 0


def test_metadata_defaults_and_overrides() -> None:
    meta = HuggingFaceSpaceLLM(space=SpaceConfig(url=URL)).metadata
    assert (meta.context_window, meta.num_output) == (DEFAULT_CONTEXT_WINDOW, DEFAULT_NUM_OUTPUTS)
    assert meta.is_chat_model is False
    assert meta.is_function_calling_model is True  # tools through the prompt protocol
    meta = HuggingFaceSpaceLLM(
        space=SpaceConfig(url=URL), context_window=8000, max_new_tokens=300
    ).metadata
    assert (meta.context_window, meta.num_output) == (8000, 300)
    chat = HuggingFaceSpaceLLM(space=SpaceConfig(url=URL, protocol="openai", model="m"))
    assert chat.metadata.is_chat_model is True


def test_limits_from_a_real_info_body() -> None:
    import httpx

    with LocalSpace() as space:
        info = httpx.get(f"{space.url}/info").json()
    window, output = limits_from_info(info)
    assert window == info["max_total_tokens"]
    assert output == info["max_total_tokens"] - info["max_input_tokens"]
    assert limits_from_info({}) == (None, None)
    assert limits_from_info({"max_total_tokens": "big"}) == (None, None)


def test_metadata_never_asks_the_client_load_limits_does_once() -> None:
    class InfoClient(SpaceClient):
        lookups = 0

        def info(self) -> dict[str, Any]:
            InfoClient.lookups += 1
            return {"max_total_tokens": 8192, "max_input_tokens": 6144}

    llm = HuggingFaceSpaceLLM(client=InfoClient(SpaceConfig(url=URL)))
    assert (llm.metadata.context_window, llm.metadata.num_output) == (
        DEFAULT_CONTEXT_WINDOW,
        DEFAULT_NUM_OUTPUTS,
    )
    assert InfoClient.lookups == 0  # metadata is pure
    meta = llm.load_limits()
    assert (meta.context_window, meta.num_output) == (8192, 2048)
    assert (llm.metadata.context_window, llm.metadata.num_output) == (8192, 2048)
    llm.load_limits()
    assert InfoClient.lookups == 1  # looked up once, then remembered
    # explicit fields win over what the Space says
    assert (
        HuggingFaceSpaceLLM(
            client=InfoClient(SpaceConfig(url=URL)), context_window=1000, num_output=10
        )
        .load_limits()
        .context_window
        == 1000
    )


def test_disabled_raises_typed_error_on_every_call() -> None:
    settings = SpacesSettings(enabled=False, tiers={"base": SpaceConfig(url=URL)})
    llm = HuggingFaceSpaceLLM(settings=settings)
    assert llm.metadata.model_name == URL  # metadata stays available
    with pytest.raises(SpacesDisabledError) as info:
        llm.complete("Hello")
    assert info.value.tier == "base" and info.value.url == URL
    with pytest.raises(SpacesDisabledError):
        llm.stream_chat([ChatMessage(role=MessageRole.USER, content="Hello")])


async def test_disabled_raises_in_async_methods_too() -> None:
    llm = HuggingFaceSpaceLLM(settings=SpacesSettings(enabled=False))
    with pytest.raises(SpacesDisabledError):
        await llm.acomplete("Hello")
    with pytest.raises(SpacesDisabledError):
        await llm.astream_chat([ChatMessage(role=MessageRole.USER, content="Hello")])


def test_non_text_message_is_a_clear_input_error() -> None:
    llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=URL))
    image = ChatMessage(
        role=MessageRole.USER,
        blocks=[TextBlock(text="What is this?"), ImageBlock(url="https://example.com/a.png")],
    )
    with pytest.raises(SpaceInputError, match="ImageBlock") as info:
        llm.chat([image])
    assert info.value.url == URL


def test_custom_messages_to_prompt_is_used() -> None:
    def plain(messages: Any) -> str:
        return "\n".join(f"{m.role.value}: {m.content}" for m in messages) + "\nassistant:"

    llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=URL), messages_to_prompt=plain)
    messages = [ChatMessage(role=MessageRole.USER, content="Hi")]
    assert llm.messages_to_prompt(messages) == "user: Hi\nassistant:"
    llama3 = HuggingFaceSpaceLLM(space=SpaceConfig(url=URL), chat_template="llama3")
    assert llama3.messages_to_prompt(messages).startswith("<|begin_of_text|>")


def test_import_without_llama_index_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_index.core", None)
    for name in [n for n in sys.modules if n.startswith("llama_index_hf_spaces")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match=r"langchain-hf-spaces\[llama-index\]"):
        importlib.import_module("llama_index_hf_spaces")
