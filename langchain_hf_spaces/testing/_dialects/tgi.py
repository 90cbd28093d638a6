"""Text Generation Inference's dialect: ``POST /generate``, ``POST /generate_stream`` (one token
per Server-Sent Event, ``generated_text`` and ``details`` on the last), ``GET /info`` and
``GET /health``, and TGI's compatibility route ``POST /`` (``{"inputs", "parameters", "stream"}``:
a list of one answer, or the stream). As strict as TGI's router: 422 with
``{"error", "error_type": "validation"}`` on an empty prompt, too many stop sequences,
``temperature: 0``, ``top_p: 1.0`` (TGI wants ``0 < top_p < 1``), ``max_new_tokens`` above the
Space's cap, and a parameter TGI does not know."""

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
DEFAULT_MAX_NEW_TOKENS_CAP = 4096
"""The largest ``max_new_tokens`` / ``max_tokens`` a LocalSpace takes unless told otherwise."""

TGI_PARAMETERS = frozenset(
    {
        "adapter_id",
        "best_of",
        "decoder_input_details",
        "details",
        "do_sample",
        "frequency_penalty",
        "grammar",
        "max_new_tokens",
        "repetition_penalty",
        "return_full_text",
        "seed",
        "stop",
        "temperature",
        "top_k",
        "top_n_tokens",
        "top_p",
        "truncate",
        "typical_p",
        "watermark",
    }
)
"""The fields of TGI's ``GenerateParameters``; TGI refuses any other."""


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_tgi_parameters(parameters: dict[str, Any], *, max_new_tokens_cap: int) -> None:
    """Refuse what TGI's router refuses, with its messages (``router/src/validation.rs``)."""
    unknown = sorted(set(parameters) - TGI_PARAMETERS)
    if unknown:
        raise HTTPError(
            422,
            "Failed to deserialize the JSON body into the target type: parameters: unknown "
            f"field `{unknown[0]}`, expected one of {', '.join(sorted(TGI_PARAMETERS))}",
            "validation",
        )

    def check(name: str, ok: Any, message: str) -> None:
        value = parameters.get(name)
        if value is not None and (not _number(value) or not ok(value)):
            raise HTTPError(422, message, "validation")

    check("temperature", lambda v: v > 0, "`temperature` must be strictly positive")
    check("repetition_penalty", lambda v: v > 0, "`repetition_penalty` must be strictly positive")
    check("top_p", lambda v: 0 < v < 1, "`top_p` must be > 0.0 and < 1.0")
    check("typical_p", lambda v: 0 < v < 1, "`typical_p` must be > 0.0 and < 1.0")
    check("top_k", lambda v: v > 0, "`top_k` must be strictly positive")
    limit = parameters.get("max_new_tokens")
    if isinstance(limit, int) and limit > max_new_tokens_cap:
        raise HTTPError(
            422,
            f"`max_new_tokens` must be <= {max_new_tokens_cap}. Given: {limit}",
            "validation",
        )


class TGIDialect(Dialect):
    """The routes of a Text Generation Inference server."""

    family = "tgi"

    def __init__(
        self,
        model: TextModel,
        *,
        model_id: str,
        max_new_tokens_cap: int = DEFAULT_MAX_NEW_TOKENS_CAP,
        max_concurrent_requests: int = 128,
    ) -> None:
        self.model = model
        self.model_id = model_id
        self.max_concurrent_requests = max_concurrent_requests
        self.max_new_tokens_cap = max_new_tokens_cap
        self._routes = {
            "/": post(self._compat),
            "/generate": post(self._generate),
            "/generate_stream": post(self._generate_stream),
            "/info": get(self._info),
            "/health": get(self._health),
        }

    def route(self, path: str) -> Route | None:
        return self._routes.get(path)

    def owns(self, path: str) -> bool:
        return path != "/" and self.route(path) is not None

    def streams(self, method: str, path: str, body: Any) -> bool:
        if method == "POST" and path == "/":
            return isinstance(body, dict) and body.get("stream") is True
        return method == "POST" and path == "/generate_stream"

    def _request(self, exchange: Exchange, *extra: str) -> tuple[str, dict[str, Any]]:
        body = exchange.request.json
        prompt, parameters = inputs_and_parameters(body, "tgi")
        assert isinstance(body, dict)  # inputs_and_parameters checked it
        unknown = sorted(set(body) - {"inputs", "parameters", *extra})
        if unknown:
            raise HTTPError(
                422,
                "Failed to deserialize the JSON body into the target type: unknown field "
                f"`{unknown[0]}`, expected one of `inputs`, `parameters`"
                + "".join(f", `{name}`" for name in extra),
                "validation",
            )
        check_tgi_parameters(parameters, max_new_tokens_cap=self.max_new_tokens_cap)
        return prompt, parameters

    async def _compat(self, exchange: Exchange) -> None:
        """TGI's ``POST /``: ``stream`` picks ``/generate_stream``, else a list of one answer
        (the shape of the old Inference API)."""
        body = exchange.request.json
        stream = body.get("stream", False) if isinstance(body, dict) else False
        if not isinstance(stream, bool):
            raise HTTPError(422, "`stream` must be a boolean", "validation")
        prompt, parameters = self._request(exchange, "stream")
        if stream:
            await exchange.stream(await self._events(prompt, parameters))
            return
        await exchange.respond(JSONResponse([await self._content(prompt, parameters)]))

    async def _generate(self, exchange: Exchange) -> None:
        prompt, parameters = self._request(exchange)
        await exchange.respond(JSONResponse(await self._content(prompt, parameters)))

    async def _content(self, prompt: str, parameters: dict[str, Any]) -> dict[str, Any]:
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
        return content

    async def _generate_stream(self, exchange: Exchange) -> None:
        prompt, parameters = self._request(exchange)
        await exchange.stream(await self._events(prompt, parameters))

    async def _events(self, prompt: str, parameters: dict[str, Any]) -> list[bytes]:
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
        return events

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
                    "max_concurrent_requests": self.max_concurrent_requests,
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
