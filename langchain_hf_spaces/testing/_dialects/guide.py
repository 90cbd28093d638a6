"""The user guide's dialect: ``POST /api/generate`` (and versioned paths like ``/v1/generate``).

Body ``{"inputs": str, "parameters": {...}}``; answer ``{"generated_text": str}``, or
``[{"generated_text": str}]`` (the Inference API shape), or the prompt echoed in front of the
text (``return_full_text``).
"""

from __future__ import annotations

import re
from typing import Literal

from starlette.responses import JSONResponse

from langchain_hf_spaces.testing._dialects._base import (
    Dialect,
    Exchange,
    Route,
    TextModel,
    inputs_and_parameters,
    post,
)

__all__ = ["AnswerShape", "GuideDialect"]

AnswerShape = Literal["object", "list", "echo"]
"""How the guide's ``/api/generate`` route answers.

``"object"``: ``{"generated_text": ...}``; ``"list"``: ``[{"generated_text": ...}]`` (the
Inference API shape); ``"echo"``: ``{"generated_text": prompt + text}`` (``return_full_text``).
"""

_GENERATE_PATH = re.compile(r"^(/[A-Za-z0-9._~-]+)*/generate$")


class GuideDialect(Dialect):
    """``POST <any prefix>/generate``, answered in the configured :data:`AnswerShape`."""

    family = "hf"

    def __init__(self, model: TextModel, *, answer_shape: AnswerShape) -> None:
        self.model = model
        self.answer_shape = answer_shape
        self._generate = post(self._answer)

    def route(self, path: str) -> Route | None:
        return self._generate if _GENERATE_PATH.match(path) else None

    async def _answer(self, exchange: Exchange) -> None:
        prompt, parameters = inputs_and_parameters(exchange.request.json, "hf")
        text = self.model.shape(await self.model.text(prompt, parameters), parameters).text
        if parameters.get("return_full_text", self.answer_shape == "echo"):
            text = prompt + text
        if self.answer_shape == "list":
            await exchange.respond(JSONResponse([{"generated_text": text}]))
        else:
            await exchange.respond(JSONResponse({"generated_text": text}))
