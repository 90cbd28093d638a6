"""Error answers in the dialect of the route that failed.

The guide's routes answer ``{"error": message}`` (Hugging Face style), the TGI routes
``{"error", "error_type"}``, the OpenAI-compatible routes ``{"error": {"message", "type",
"code"}}``. Status codes: 401 bad or missing token, 413 prompt or body too large, 422 invalid
input or a value above a cap, 500 the model failed.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

__all__ = ["ApiError", "error_payload", "error_response", "family_of"]

_TGI_PATHS = ("/generate", "/generate_stream", "/info", "/health")


class ApiError(Exception):
    """Raise to answer ``status`` with ``message``; ``error_type`` as TGI names it."""

    def __init__(self, status: int, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or _default_type(status)


def _default_type(status: int) -> str:
    if status in (400, 413, 422):
        return "validation"
    if status == 401:
        return "authentication"
    if status in (429, 503):
        return "overloaded"
    return "generation" if status >= 500 else "request"


def family_of(path: str) -> str:
    """``"openai"``, ``"tgi"`` or ``"hf"``: which error dialect a path speaks."""
    if path.startswith("/v1/"):
        return "openai"
    if path.rstrip("/") in _TGI_PATHS:
        return "tgi"
    return "hf"


def error_payload(path: str, message: str, error_type: str) -> dict[str, Any]:
    family = family_of(path)
    if family == "openai":
        return {"error": {"message": message, "type": error_type, "code": None}}
    if family == "tgi":
        return {"error": message, "error_type": error_type}
    return {"error": message}


def error_response(
    path: str, status: int, message: str, error_type: str | None = None
) -> JSONResponse:
    error_type = error_type or _default_type(status)
    return JSONResponse(error_payload(path, message, error_type), status_code=status)
