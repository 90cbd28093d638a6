"""LangChain's standard unit tests for ChatHuggingFaceSpace (no network: nothing is called)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_hf_spaces.chat_models import ChatHuggingFaceSpace

SPACE_URL = "https://acme-base-llm.hf.space"


@pytest.fixture(autouse=True)
def _allow_our_class_in_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let ``load(..., allowed_objects="all")`` revive ChatHuggingFaceSpace.

    langchain-core 1.8 admits under "all" only the classes in its own serialisation mappings,
    which no package outside langchain's tree is in, so the inherited ``test_serdes`` could never
    pass for a third-party class. Registering our class path for the duration of each test is
    what a user does with ``additional_import_mappings``; the test itself runs unchanged.
    """
    lc_load = importlib.import_module("langchain_core.load.load")
    path = ("langchain_hf_spaces", "chat_models", "ChatHuggingFaceSpace")
    monkeypatch.setitem(lc_load.ALL_SERIALIZABLE_MAPPINGS, path, path)
    monkeypatch.setattr(lc_load, "_default_class_paths_cache", {})


class TestChatHuggingFaceSpaceStandard(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return ChatHuggingFaceSpace

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"space_url": SPACE_URL, "revision": "acme/base-7b@v1"}

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {
                "HF_TOKEN": "hf_from_env",
                "HF_SPACES_BASE_URL": "https://huggingface.co/spaces/Acme/Base_LLM",
                "HF_SPACES_BASE_REVISION": "v2",
            },
            {},
            {
                "hf_token": "hf_from_env",
                "tier": "base",
                "space_url": "https://acme-base-llm.hf.space",
                "revision": "v2",
            },
        )
