"""Use LLMs deployed on Hugging Face Spaces from Python, LangChain and LlamaIndex."""

from __future__ import annotations

from langchain_hf_spaces.client import (
    ConnectionReport,
    DuplicateVariationsWarning,
    SpaceAnswer,
    SpaceClient,
    SpacesClient,
    StreamChunk,
)
from langchain_hf_spaces.config import SpaceConfig, SpacesSettings, normalize_space_url
from langchain_hf_spaces.errors import (
    HFSpacesError,
    SpaceAuthError,
    SpaceConfigError,
    SpaceConnectionError,
    SpaceInputError,
    SpaceNotFoundError,
    SpaceRateLimitError,
    SpaceResponseError,
    SpacesDisabledError,
    SpaceTimeoutError,
    SpaceUnavailableError,
    StructuredOutputError,
)
from langchain_hf_spaces.schema import SchemaError, schema_to_model

__all__ = [
    "ConnectionReport",
    "DuplicateVariationsWarning",
    "HFSpacesError",
    "SchemaError",
    "SpaceAnswer",
    "SpaceAuthError",
    "SpaceClient",
    "SpaceConfig",
    "SpaceConfigError",
    "SpaceConnectionError",
    "SpaceInputError",
    "SpaceNotFoundError",
    "SpaceRateLimitError",
    "SpaceResponseError",
    "SpaceTimeoutError",
    "SpaceUnavailableError",
    "SpacesClient",
    "SpacesDisabledError",
    "SpacesSettings",
    "StreamChunk",
    "StructuredOutputError",
    "normalize_space_url",
    "schema_to_model",
]
