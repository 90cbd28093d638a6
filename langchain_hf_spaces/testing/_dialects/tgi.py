"""Text Generation Inference's dialect: ``POST /generate``, ``POST /generate_stream`` (one token
per Server-Sent Event, ``generated_text`` and ``details`` on the last), ``GET /info`` and
``GET /health``; as strict as TGI (422 on an empty prompt or too many stop sequences)."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from langchain_hf_spaces.testing._dialects._base import (
    Dialect,
    Exchange,
    Generation,
    HTTPError,
    Route,
    TextModel,
    get,
    inputs_and_parameters,
    post,
    split_tokens,
    sse,
)

__all__ = ["DEFAULT_MODEL_ID", "MAX_STOP_SEQUENCES", "TGIDialect"]

DEFAULT_MODEL_ID = "langchain-hf-spaces/local-demo"
"""The ``model_id`` that ``GET /info`` reports unless told otherwise."""
MAX_STOP_SEQUENCES = 4
"""TGI's default ``--max-stop-sequences``."""


class TGIDialect(Dialect):
    """The routes of a Text Generation Inference server."""

    family = "tgi"

    def __init__(self, model: TextModel, *, model_id: str) -> None:
        self.model = model
        self.model_id = model_id
        self._routes = {
            "/generate": post(self._generate),
            "/generate_stream": post(self._generate_stream),
            "/info": get(self._info),
            "/health": get(self._health),
        }

    def route(self, path: str) -> Route | None:
        return self._routes.get(path)

    def streams(self, method: str, path: str, body: Any) -> bool:
        return method == "POST" and path == "/generate_stream"

    async def _generate(self, exchange: Exchange) -> None:
        prompt, parameters = inputs_and_parameters(exchange.request.json, "tgi")
        generation, text = await self._text(prompt, parameters)
        content: dict[str, Any] = {"generated_text": text}
        if parameters.get("details"):
            content["details"] = {
                "finish_reason": generation.finish_reason,
                "generated_tokens": len(generation.text.split()),
                "seed": generation.seed,
                "prefill": [],
                "tokens": [],
            }
        await exchange.respond(JSONResponse(content))

    async def _generate_stream(self, exchange: Exchange) -> None:
        prompt, parameters = inputs_and_parameters(exchange.request.json, "tgi")
        generation, text = await self._text(prompt, parameters)
        tokens = split_tokens(generation.text) or [""]
        events: list[bytes] = []
        for index, token in enumerate(tokens):
            last = index == len(tokens) - 1
            event: dict[str, Any] = {
                "index": index,
                "token": {"id": index, "text": token, "logprob": 0.0, "special": token == ""},
                "generated_text": text if last else None,
                "details": (
                    {
                        "finish_reason": generation.finish_reason,
                        "generated_tokens": len(generation.text.split()),
                        "seed": generation.seed,
                    }
                    if last
                    else None
                ),
            }
            events.append(sse(event))
        await exchange.stream(events)

    async def _text(self, prompt: str, parameters: dict[str, Any]) -> tuple[Generation, str]:
        """The generation, and the text to send (the prompt in front for return_full_text)."""
        if not prompt:
            raise HTTPError(422, "`inputs` cannot be empty", "validation")
        stops = parameters.get("stop") or []
        if isinstance(stops, list) and len(stops) > MAX_STOP_SEQUENCES:
            raise HTTPError(
                422,
                f"`stop` supports up to {MAX_STOP_SEQUENCES} stop sequences. Given: {len(stops)}",
                "validation",
            )
        generation = self.model.shape(await self.model.text(prompt, parameters), parameters)
        text = generation.text
        if parameters.get("return_full_text") is True:
            text = prompt + text
        return generation, text

    async def _info(self, exchange: Exchange) -> None:
        await exchange.respond(
            JSONResponse(
                {
                    "model_id": self.model_id,
                    "model_sha": None,
                    "model_dtype": "float32",
                    "model_device_type": "cpu",
                    "model_pipeline_tag": "text-generation",
                    "max_concurrent_requests": 128,
                    "max_best_of": 2,
                    "max_stop_sequences": MAX_STOP_SEQUENCES,
                    "max_input_tokens": 4096,
                    "max_total_tokens": 8192,
                    "validation_workers": 2,
                    "max_client_batch_size": 4,
                    "router": "text-generation-router",
                    "version": "3.0.0-local",
                    "sha": None,
                    "docker_label": None,
                }
            )
        )

    async def _health(self, exchange: Exchange) -> None:
        await exchange.respond(Response(b"", status_code=200))
