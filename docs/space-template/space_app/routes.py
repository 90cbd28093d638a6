"""The HTTP API: the guide's ``/api/generate``, TGI's routes, and OpenAI-compatible chat."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from space_app import __version__
from space_app.backends import Backend, Prepared
from space_app.config import Settings
from space_app.errors import ApiError
from space_app.generation import Run, apieces
from space_app.schemas import (
    MAX_STOP_SEQUENCES,
    ChatRequest,
    GenerateRequest,
    GenerationParams,
    Limits,
)

__all__ = ["SpaceState", "router"]

router = APIRouter()

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


@dataclass
class SpaceState:
    """What every route needs; kept on ``app.state.space``."""

    settings: Settings
    backend: Backend
    limits: Limits

    async def run(
        self, prepare: Callable[[], Prepared], params: GenerationParams, route: str
    ) -> Run:
        """Start a generation in a worker thread (tokenising and waiting for the model block)."""

        def start() -> Run:
            return Run(
                self.backend,
                prepare(),
                params,
                route=route,
                log_prompts=self.settings.log_prompts,
            )

        return await run_in_threadpool(start)


def _state(request: Request) -> SpaceState:
    state: SpaceState = request.app.state.space
    return state


def _sse(payload: Any) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def _details(run: Run, params: GenerationParams, full: bool) -> dict[str, Any]:
    details: dict[str, Any] = {
        "finish_reason": run.finish_reason,
        "generated_tokens": run.generated_tokens,
        "seed": params.seed,
    }
    if full:
        details.update(prefill=[], tokens=[])
    return details


# ------------------------------------------------------------------------ the guide's API


@router.post("/api/generate", tags=["guide"])
async def guide_generate(body: GenerateRequest, request: Request) -> JSONResponse:
    """The user guide's format: ``{"inputs", "parameters"}`` -> ``{"generated_text"}``."""
    if body.stream:
        raise ApiError(422, "stream=true: this route does not stream; use POST /generate_stream.")
    state = _state(request)
    prompt, params = state.limits.generate(body)
    run = await state.run(lambda: state.backend.prepare_text(prompt), params, "/api/generate")
    text = await run_in_threadpool(run.collect)
    content: dict[str, Any] = {
        "generated_text": prompt + text if body.parameters.return_full_text else text
    }
    if body.parameters.details:
        content["details"] = _details(run, params, full=False)
    return JSONResponse(content)


# ---------------------------------------------------------------------------------- TGI


@router.post("/generate", tags=["tgi"])
async def tgi_generate(body: GenerateRequest, request: Request) -> JSONResponse:
    """Text Generation Inference's ``/generate``; ``details`` on request."""
    if body.stream:
        raise ApiError(422, "stream=true: use POST /generate_stream.")
    state = _state(request)
    prompt, params = state.limits.generate(body)
    run = await state.run(lambda: state.backend.prepare_text(prompt), params, "/generate")
    text = await run_in_threadpool(run.collect)
    content: dict[str, Any] = {
        "generated_text": prompt + text if body.parameters.return_full_text else text
    }
    if body.parameters.details:
        content["details"] = _details(run, params, full=True)
    return JSONResponse(content)


@router.post("/generate_stream", tags=["tgi"])
async def tgi_generate_stream(body: GenerateRequest, request: Request) -> StreamingResponse:
    """Server-Sent Events, one token per event; the last carries ``generated_text``/``details``."""
    if body.stream is False:
        raise ApiError(422, "stream=false: use POST /generate.")
    state = _state(request)
    prompt, params = state.limits.generate(body)
    run = await state.run(lambda: state.backend.prepare_text(prompt), params, "/generate_stream")
    full_text = bool(body.parameters.return_full_text)

    def token(index: int, text: str, special: bool = False) -> dict[str, Any]:
        # Token ids and log-probabilities are not reported: id is the position, logprob 0.
        return {
            "index": index,
            "token": {"id": index, "text": text, "logprob": 0.0, "special": special},
            "generated_text": None,
            "details": None,
            "top_tokens": None,
        }

    async def events() -> AsyncIterator[bytes]:
        # Each token is sent when the next one exists, so the last can carry the whole text.
        index, pending = 0, None
        try:
            async for piece in apieces(run):
                if pending is not None:
                    yield _sse(token(index, pending))
                    index += 1
                pending = piece
        except ApiError as exc:
            yield _sse({"error": exc.message, "error_type": exc.error_type})
            return
        last = token(index, pending or "", special=pending is None)
        last["generated_text"] = prompt + run.text if full_text else run.text
        last["details"] = _details(run, params, full=False)
        yield _sse(last)

    return StreamingResponse(events(), media_type="text/event-stream", headers=_SSE_HEADERS)


@router.get("/info", tags=["tgi"])
async def info(request: Request) -> dict[str, Any]:
    """What TGI's ``/info`` says, plus this Space's limits."""
    state = _state(request)
    backend, settings = state.backend, state.settings
    return {
        "model_id": backend.model_id,
        "model_sha": None,
        "model_dtype": backend.dtype,
        "model_device_type": backend.device,
        "model_pipeline_tag": "text-generation",
        "max_concurrent_requests": 1 if backend.kind == "transformers" else 128,
        "max_best_of": 1,
        "max_stop_sequences": MAX_STOP_SEQUENCES,
        "max_input_tokens": None,
        "max_total_tokens": backend.context_length,
        "max_prompt_chars": settings.max_prompt_chars,
        "max_new_tokens_cap": settings.max_new_tokens_cap,
        "backend": backend.kind,
        "router": "langchain-hf-spaces-space-template",
        "version": __version__,
        "sha": None,
        "docker_label": None,
    }


@router.get("/health", tags=["tgi"])
async def health() -> dict[str, str]:
    """Always public (no token needed): 200 once the model is loaded."""
    return {"status": "ok"}


# ------------------------------------------------------------------- OpenAI-compatible


@router.get("/v1/models", tags=["openai"])
async def models(request: Request) -> dict[str, Any]:
    model_id = _state(request).backend.model_id
    return {
        "object": "list",
        "data": [{"id": model_id, "object": "model", "created": 0, "owned_by": "space"}],
    }


@router.post("/v1/chat/completions", tags=["openai"], response_model=None)
async def chat_completions(body: ChatRequest, request: Request) -> JSONResponse | StreamingResponse:
    """OpenAI-compatible chat, streamed or not, with ``usage``."""
    state = _state(request)
    params = state.limits.chat(body)
    messages = [
        {"role": "system" if m.role == "developer" else m.role, "content": m.text}
        for m in body.messages
    ]
    route = "/v1/chat/completions"
    run = await state.run(lambda: state.backend.prepare_chat(messages), params, route)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    model = state.backend.model_id

    def finish() -> str:
        return "length" if run.finish_reason == "length" else "stop"

    def usage() -> dict[str, int]:
        return {
            "prompt_tokens": run.prompt_tokens,
            "completion_tokens": run.generated_tokens,
            "total_tokens": run.prompt_tokens + run.generated_tokens,
        }

    if not body.stream:
        text = await run_in_threadpool(run.collect)
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "logprobs": None,
                        "finish_reason": finish(),
                    }
                ],
                "usage": usage(),
            }
        )

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return _sse(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
                ],
            }
        )

    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    async def events() -> AsyncIterator[bytes]:
        yield chunk({"role": "assistant", "content": ""})
        try:
            async for piece in apieces(run):
                yield chunk({"content": piece})
        except ApiError as exc:
            yield _sse({"error": {"message": exc.message, "type": exc.error_type, "code": None}})
            return
        yield chunk({}, finish())
        if include_usage:
            yield _sse(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage(),
                }
            )
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers=_SSE_HEADERS)
