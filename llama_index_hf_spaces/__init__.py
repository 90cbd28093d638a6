"""LlamaIndex integration: :class:`HuggingFaceSpaceLLM`, an LLM backed by a Hugging Face Space.

Needs the ``llama-index`` extra (``pip install "langchain-hf-spaces[llama-index]"``)::

    from llama_index.core import Settings
    from llama_index_hf_spaces import HuggingFaceSpaceLLM

    Settings.llm = HuggingFaceSpaceLLM(tier="base")    # settings from env / hf-spaces.toml
"""

from __future__ import annotations

try:
    import llama_index.core  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised by a test that hides the package
    raise ImportError(
        "llama_index_hf_spaces needs llama-index-core, which is not installed. Install the "
        '`llama-index` extra: pip install "langchain-hf-spaces[llama-index]"'
    ) from exc

from llama_index_hf_spaces.base import HuggingFaceSpaceLLM

__all__ = ["HuggingFaceSpaceLLM"]
