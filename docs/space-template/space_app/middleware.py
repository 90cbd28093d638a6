"""Request logging (never prompts or headers) and the request-size and Gradio input checks."""

from __future__ import annotations

import json
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from space_app.errors import ApiError, error_response
from space_app.schemas import Limits

__all__ = [
    "GRADIO_CALL_PATHS",
    "GRADIO_QUEUE_PATHS",
    "InputGuardMiddleware",
    "RequestLogMiddleware",
]

logger = logging.getLogger("space_app")

GRADIO_CALL_PATHS = frozenset(
    f"/gradio_api/{kind}/predict{slash}" for kind in ("call", "run", "api") for slash in ("", "/")
)
"""Where Gradio clients call ``/predict`` directly (the UI uses the queue instead)."""
GRADIO_QUEUE_PATHS = frozenset({"/gradio_api/queue/join", "/queue/join"})
"""Where the queue protocol submits a call: checked when it is the ``/predict`` function's."""

_QUIET_PREFIXES = ("/assets/", "/static/", "/gradio_api/heartbeat", "/theme.css", "/favicon")


class RequestLogMiddleware:
    """One log line per request: method, path, status, duration. No query, headers or body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            path: str = scope["path"]
            level = logging.DEBUG if path.startswith(_QUIET_PREFIXES) else logging.INFO
            logger.log(
                level,
                "%s %s -> %s (%.0f ms)",
                scope["method"],
                path,
                status or "no response",
                (time.perf_counter() - started) * 1000,
            )


class InputGuardMiddleware:
    """Refuses bodies over the size limit (413), and checks direct Gradio ``/predict`` calls
    against the same limits as the HTTP API, so they fail with a 4xx before being queued."""

    def __init__(
        self,
        app: ASGIApp,
        limits: Limits,
        max_body_bytes: int,
        gradio_fns: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.limits = limits
        self.max_body_bytes = max_body_bytes
        self.gradio_fns = gradio_fns if gradio_fns is not None else {}
        """``{"predict": fn_index}`` once the UI is built (queue calls name the function)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        too_large = error_response(
            path,
            413,
            f"The request body is larger than this Space accepts ({self.max_body_bytes} bytes).",
        )
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if path in GRADIO_CALL_PATHS or (
            path in GRADIO_QUEUE_PATHS and self._queued_fn(body) == self.gradio_fns.get("predict")
        ):
            problem = self._check_gradio(body)
            if problem is not None:
                await error_response(path, problem.status, problem.message)(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    def _queued_fn(body: bytes) -> int | None:
        try:
            fn = json.loads(body).get("fn_index")
        except (ValueError, AttributeError):
            return None
        return fn if isinstance(fn, int) else None

    def _check_gradio(self, body: bytes) -> ApiError | None:
        try:
            data = json.loads(body).get("data")
        except (ValueError, AttributeError):
            return None  # not ours to judge: Gradio answers malformed calls itself
        if not isinstance(data, list) or not data:
            return None
        padded = [*data, None, None][:3]
        try:
            self.limits.ui(*padded)
        except ApiError as exc:
            return exc
        return None
