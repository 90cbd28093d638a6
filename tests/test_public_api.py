"""The public surface is small, sorted and pinned: a change to it is a deliberate act."""

from __future__ import annotations

import subprocess
import sys

import langchain_hf_spaces

EXPECTED = [
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


def test_all_is_pinned_and_sorted() -> None:
    assert langchain_hf_spaces.__all__ == EXPECTED
    assert sorted(EXPECTED) == EXPECTED


def test_every_name_resolves() -> None:
    for name in EXPECTED:
        assert getattr(langchain_hf_spaces, name) is not None, name


def test_core_import_does_not_load_the_frameworks() -> None:
    code = (
        "import sys, langchain_hf_spaces; "
        "print(any(m.startswith(('langchain_core', 'llama_index')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_error_is_an_hfspaces_error() -> None:
    from langchain_hf_spaces import errors

    classes = [name for name in errors.__all__ if name != "AVAILABILITY_ERRORS"]
    for name in classes:
        assert issubclass(getattr(errors, name), errors.HFSpacesError), name
    assert set(errors.AVAILABILITY_ERRORS) <= {getattr(errors, name) for name in classes}


def test_version_matches_the_distribution() -> None:
    from importlib.metadata import version

    assert langchain_hf_spaces.__version__ == version("langchain-hf-spaces")
