"""Use LLMs deployed on Hugging Face Spaces from Python, LangChain and LlamaIndex."""

from __future__ import annotations

from langchain_hf_spaces.client import (
    ConnectionReport,
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
)

__all__ = [
    "ConnectionReport",
    "HFSpacesError",
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
    "normalize_space_url",
]
