"""The wire protocols a :class:`~langchain_hf_spaces.testing.LocalSpace` speaks, one module each.

* :mod:`.guide`: the user guide's ``POST /api/generate`` (and ``/v1/generate`` style paths);
* :mod:`.tgi`: Text Generation Inference (``/generate``, ``/generate_stream``, ``/info``,
  ``/health``);
* :mod:`.openai`: OpenAI-compatible chat (``/v1/chat/completions``, ``/v1/completions``,
  ``/v1/models``).

All of them answer from one :class:`TextModel` (the responder). The server
(:mod:`langchain_hf_spaces.testing._app`) asks them in order which one serves a path.
"""

from __future__ import annotations

from langchain_hf_spaces.testing._dialects._base import (
    Dialect,
    ErrorFamily,
    Exchange,
    HTTPError,
    Route,
    TextModel,
    error_response,
)
from langchain_hf_spaces.testing._dialects.guide import AnswerShape, GuideDialect
from langchain_hf_spaces.testing._dialects.openai import OPENAI_MODEL_ID, OpenAIDialect
from langchain_hf_spaces.testing._dialects.tgi import (
    DEFAULT_MAX_NEW_TOKENS_CAP,
    DEFAULT_MODEL_ID,
    MAX_STOP_SEQUENCES,
    TGIDialect,
)

__all__ = [
    "DEFAULT_MAX_NEW_TOKENS_CAP",
    "DEFAULT_MODEL_ID",
    "MAX_STOP_SEQUENCES",
    "OPENAI_MODEL_ID",
    "AnswerShape",
    "Dialect",
    "ErrorFamily",
    "Exchange",
    "GuideDialect",
    "HTTPError",
    "OpenAIDialect",
    "Route",
    "TGIDialect",
    "TextModel",
    "error_response",
]
