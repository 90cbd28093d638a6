"""The FastAPI application: API routes, then middleware, then the Gradio UI mounted at ``/``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.middleware.cors import CORSMiddleware

from space_app import __version__
from space_app.backends import Backend, load_backend
from space_app.config import Settings
from space_app.errors import ApiError, error_response
from space_app.middleware import InputGuardMiddleware, RequestLogMiddleware
from space_app.routes import SpaceState, router
from space_app.schemas import Limits
from space_app.security import AuthMiddleware, login_router

__all__ = ["create_app", "serve"]

logger = logging.getLogger("space_app")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        kind = err.get("type", "")
        if kind == "json_invalid":
            return "The request body is not valid JSON."
        if not loc and kind in ("missing", "model_attributes_type", "dict_type"):
            return "The request body must be a JSON object (Content-Type: application/json)."
        where = ".".join(loc) or "body"
        if kind == "extra_forbidden":
            parts.append(f"{where} is not supported by this Space")
        else:
            parts.append(f"{where}: {err.get('msg', '')}")
    return "Invalid request: " + "; ".join(parts) + "."


def create_app(settings: Settings | None = None, *, backend: Backend | None = None) -> FastAPI:
    """Build the Space's app (loads the model unless ``backend`` is given).

    ``uvicorn --factory app:create_app`` runs it with settings from the environment.
    """
    settings = settings if settings is not None else Settings.from_env()
    backend = backend if backend is not None else load_backend(settings)
    state = SpaceState(settings, backend, Limits(settings))

    app = FastAPI(
        title=settings.space_name,
        version=__version__,
        description="A Hugging Face Space serving a text-generation model four ways.",
        redoc_url=None,
    )
    app.state.space = state
    app.include_router(router)
    if settings.api_token:
        app.include_router(login_router(settings.api_token))

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request.url.path, exc.status, exc.message, exc.error_type)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request.url.path, 422, _validation_message(exc), "validation")

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s", request.url.path)
        message = f"Internal error ({type(exc).__name__}); see the Space's logs."
        return error_response(request.url.path, 500, message, "generation")

    # Innermost first: each add_middleware wraps everything added before it.
    gradio_fns: dict[str, int] = {}
    app.add_middleware(
        InputGuardMiddleware,
        limits=state.limits,
        max_body_bytes=settings.max_body_bytes,
        gradio_fns=gradio_fns,
    )
    if settings.api_token:
        app.add_middleware(AuthMiddleware, token=settings.api_token)
    # Always configured (possibly with no origin allowed), so that Gradio adds no CORS policy
    # of its own and CORS_ORIGINS is the only one that applies.
    origins = ["*"] if "*" in settings.cors_origins else list(settings.cors_origins)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["authorization", "content-type", "x-hf-authorization"],
        max_age=600,
    )
    app.add_middleware(RequestLogMiddleware)

    if settings.enable_ui:
        import gradio as gr

        from space_app.ui import build_ui

        # Mounted last and at "/": the routes above take precedence, and Gradio's own
        # routes (/gradio_api/info, /gradio_api/call/predict, ...) live under /gradio_api.
        ui = build_ui(state)
        for i, dep in enumerate(ui.config.get("dependencies", [])):
            if dep.get("api_name") == "predict":  # queue calls name it by fn_index
                gradio_fns["predict"] = dep.get("id", i)
        gr.mount_gradio_app(app, ui, path="/")
    else:

        @app.get("/", include_in_schema=False)
        async def index() -> dict[str, Any]:
            return {
                "space": settings.space_name,
                "backend": backend.kind,
                "model_id": backend.model_id,
                "endpoints": [
                    "POST /api/generate",
                    "POST /generate",
                    "POST /generate_stream",
                    "GET /info",
                    "GET /health",
                    "POST /v1/chat/completions",
                    "GET /v1/models",
                    "GET /docs",
                ],
            }

    return app


def serve(settings: Settings | None = None) -> None:
    """Run the Space with uvicorn (what ``python app.py`` and the Dockerfile do)."""
    import uvicorn

    settings = settings if settings is not None else Settings.from_env()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logger.info(
        "starting: backend=%s model=%s ui=%s api_token=%s cors=%s log_prompts=%s",
        settings.backend,
        settings.model_id if settings.backend == "transformers" else "-",
        settings.enable_ui,
        "set" if settings.api_token else "unset",
        ",".join(settings.cors_origins) or "-",
        settings.log_prompts,
    )
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,  # RequestLogMiddleware logs requests, without query strings
        proxy_headers=True,  # behind Hugging Face's proxy: https, so the login cookie is Secure
        forwarded_allow_ips="*",
    )
