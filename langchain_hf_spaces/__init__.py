"""Use LLMs deployed on Hugging Face Spaces from Python, LangChain and LlamaIndex."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_hf_spaces._cache import MemoryCache, SQLiteCache
from langchain_hf_spaces._constants import VERSION
from langchain_hf_spaces._hub import SpaceRuntime
from langchain_hf_spaces._policy import WaitEvent
from langchain_hf_spaces._request_log import RequestLogger
from langchain_hf_spaces._stats import SpacesStats, StatsSnapshot, TierStats
from langchain_hf_spaces.client import (
    ConnectionReport,
    DuplicateVariationsWarning,
    SpaceAnswer,
    SpaceClient,
    SpacesClient,
    StreamChunk,
)
from langchain_hf_spaces.config import (
    SpaceConfig,
    SpacesSettings,
    SpaceVariant,
    normalize_space_url,
)
from langchain_hf_spaces.errors import (
    HFSpacesError,
    SpaceAuthError,
    SpaceConfigError,
    SpaceConnectionError,
    SpaceInputError,
    SpaceNotFoundError,
    SpacePausedError,
    SpaceQuotaError,
    SpaceRateLimitError,
    SpaceResponseError,
    SpaceRuntimeError,
    SpacesDisabledError,
    SpaceTimeoutError,
    SpaceUnavailableError,
    StructuredOutputError,
)
from langchain_hf_spaces.schema import SchemaError, schema_to_model

# The LangChain classes load on first use, so the framework-free core imports fast.
_LAZY = {
    "ChatHuggingFaceSpace": "langchain_hf_spaces.chat_models",
    "HuggingFaceSpaceLLM": "langchain_hf_spaces.llms",
    "HuggingFaceSpaces": "langchain_hf_spaces.tiers",
    "SchemaOutputParser": "langchain_hf_spaces.output_parsers",
    "SpaceTierRouter": "langchain_hf_spaces.tiers",
    "SpaceTool": "langchain_hf_spaces.tools",
    "SpaceVariationsRunnable": "langchain_hf_spaces.runnables",
    "StructuredSpaceRunnable": "langchain_hf_spaces.runnables",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'langchain_hf_spaces' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from langchain_hf_spaces.chat_models import ChatHuggingFaceSpace
    from langchain_hf_spaces.llms import HuggingFaceSpaceLLM
    from langchain_hf_spaces.output_parsers import SchemaOutputParser
    from langchain_hf_spaces.runnables import SpaceVariationsRunnable, StructuredSpaceRunnable
    from langchain_hf_spaces.tiers import HuggingFaceSpaces, SpaceTierRouter
    from langchain_hf_spaces.tools import SpaceTool

__version__ = VERSION

__all__ = [
    "ChatHuggingFaceSpace",
    "ConnectionReport",
    "DuplicateVariationsWarning",
    "HFSpacesError",
    "HuggingFaceSpaceLLM",
    "HuggingFaceSpaces",
    "MemoryCache",
    "RequestLogger",
    "SQLiteCache",
    "SchemaError",
    "SchemaOutputParser",
    "SpaceAnswer",
    "SpaceAuthError",
    "SpaceClient",
    "SpaceConfig",
    "SpaceConfigError",
    "SpaceConnectionError",
    "SpaceInputError",
    "SpaceNotFoundError",
    "SpacePausedError",
    "SpaceQuotaError",
    "SpaceRateLimitError",
    "SpaceResponseError",
    "SpaceRuntime",
    "SpaceRuntimeError",
    "SpaceTierRouter",
    "SpaceTimeoutError",
    "SpaceTool",
    "SpaceUnavailableError",
    "SpaceVariant",
    "SpaceVariationsRunnable",
    "SpacesClient",
    "SpacesDisabledError",
    "SpacesSettings",
    "SpacesStats",
    "StatsSnapshot",
    "StreamChunk",
    "StructuredOutputError",
    "StructuredSpaceRunnable",
    "TierStats",
    "WaitEvent",
    "normalize_space_url",
    "schema_to_model",
]
