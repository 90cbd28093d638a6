"""The ASGI application and state behind :class:`~langchain_hf_spaces.testing.FakeHub`.

It answers the two Hub routes a Space client needs, in the shapes ``huggingface_hub`` parses
(``HfApi.get_space_runtime`` -> ``SpaceRuntime``, ``HfApi.space_info`` -> ``SpaceInfo``):

* ``GET /api/spaces/{namespace}/{name}/runtime``: ``{"stage", "hardware": {"current",
  "requested"}, "storage", "gcTimeout", "replicas", "sdk"}`` and ``"errorMessage"`` when set;
* ``GET /api/spaces/{namespace}/{name}``: the Space's info with ``"id"``, ``"private"``,
  ``"sdk"``, ``"host"``, ``"subdomain"`` and the same ``"runtime"``.

Every answer carries the Hub's ``RateLimit`` / ``RateLimit-Policy`` headers and an
``X-Request-Id``; errors are ``{"error": ...}`` with ``X-Error-Message`` (and ``X-Error-Code:
RepoNotFound`` where the Hub sends it), so that ``huggingface_hub.utils.hf_raise_for_status``
maps them as it maps the Hub's own.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from langchain_hf_spaces.testing._channel import Channel, ConnectionGone, read_body

__all__ = ["HubApp", "HubRequest", "HubSpace", "HubState", "runtime_payload"]

_SENSITIVE_HEADERS = frozenset({"authorization", "x-hf-authorization", "cookie", "x-api-key"})
_ROUTE = re.compile(r"^/api/spaces/(?P<namespace>[^/]+)/(?P<name>[^/]+)(?P<runtime>/runtime)?/?$")
# Stages in which the Space has its hardware and a replica up.
_SERVING_STAGES = frozenset({"RUNNING", "RUNNING_BUILDING", "RUNNING_APP_STARTING"})
_NO_LOGIN = "Invalid username or password."
_INVALID_CREDENTIALS = "Invalid credentials in Authorization header"
_NOT_FOUND = "Repository not found"


@dataclass(frozen=True)
class HubRequest:
    """One request as the fake Hub received it.

    ``headers`` has lower-case keys and never holds credentials (``authorization``, cookies):
    use :meth:`sent_token` to check which token came with the request.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    timestamp: float
    """``time.monotonic()`` when the request arrived (for polling-interval tests)."""
    status: int | None
    """The status answered, or ``None`` when the connection was closed (:meth:`FakeHub.down`)."""
    token_digest: str | None = field(default=None, repr=False)

    @property
    def authenticated(self) -> bool:
        """True when the request carried ``Authorization: Bearer <token>``."""
        return self.token_digest is not None

    def sent_token(self, token: str) -> bool:
        """True when the request carried exactly ``token`` as its bearer token."""
        return self.token_digest is not None and hmac.compare_digest(
            self.token_digest, _digest(token)
        )


@dataclass
class HubSpace:
    """One Space the fake Hub knows (mutated under :attr:`HubState.lock`)."""

    space_id: str
    stage: str
    hardware: str | None
    requested_hardware: str | None
    private: bool
    token: str | None
    host: str
    subdomain: str
    error_message: str | None
    gc_timeout: int | None
    sdk: str
    created_at: str
    # (monotonic time, stage, errorMessage), in time order: set by FakeHub.script()
    script: tuple[tuple[float, str, str | None], ...] = ()

    def stage_at(self, now: float) -> tuple[str, str | None]:
        """The stage and error message at monotonic time ``now``."""
        stage, message = self.stage, self.error_message
        for at, scripted, scripted_message in self.script:
            if now < at:
                break
            stage, message = scripted, scripted_message
        return stage, message


def runtime_payload(space: HubSpace, now: float) -> dict[str, Any]:
    """The ``/runtime`` answer for ``space`` at monotonic time ``now``."""
    stage, message = space.stage_at(now)
    payload: dict[str, Any] = {
        "stage": stage,
        "hardware": {"current": space.hardware, "requested": space.requested_hardware},
        "storage": None,
        "gcTimeout": space.gc_timeout,
        "replicas": {"current": 1 if stage in _SERVING_STAGES else 0, "requested": 1},
        "sdk": space.sdk,
    }
    if message is not None:
        payload["errorMessage"] = message
    return payload


def _info_payload(space: HubSpace, now: float) -> dict[str, Any]:
    namespace, _, _ = space.space_id.partition("/")
    sha = hashlib.sha1(space.space_id.encode()).hexdigest()  # noqa: S324 - a fake commit id
    return {
        "_id": sha[:24],
        "id": space.space_id,
        "author": namespace,
        "sha": sha,
        "createdAt": space.created_at,
        "lastModified": space.created_at,
        "private": space.private,
        "gated": False,
        "disabled": False,
        "host": space.host,
        "subdomain": space.subdomain,
        "likes": 0,
        "sdk": space.sdk,
        "tags": [space.sdk, "region:us"],
        "siblings": [{"rfilename": "README.md"}, {"rfilename": "app.py"}],
        "runtime": runtime_payload(space, now),
    }


@dataclass
class HubState:
    """Everything a :class:`FakeHub` shares between the caller's thread and the server's."""

    quota: int
    window: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    spaces: dict[str, HubSpace] = field(default_factory=dict)
    requests: list[HubRequest] = field(default_factory=list)
    forced_limits: int = 0
    forced_reset: int = 0
    down: bool = False
    down_status: int | None = None
    window_start: float | None = None
    window_count: int = 0
    served: int = 0

    def rate_headers(self, now: float) -> tuple[dict[str, str], int | None]:
        """Count one request; the ``RateLimit`` headers, and the reset in seconds when this
        request is to be refused with 429 (under the lock)."""
        if self.window_start is None or now - self.window_start >= self.window:
            self.window_start, self.window_count = now, 0
        self.window_count += 1
        reset = max(0, math.ceil(self.window_start + self.window - now))
        refused: int | None = None
        if self.forced_limits > 0:
            self.forced_limits -= 1
            refused = reset = self.forced_reset
        elif self.window_count > self.quota:
            refused = reset
        remaining = 0 if refused is not None else max(0, self.quota - self.window_count)
        headers = {
            "RateLimit": f'"api";r={remaining};t={reset}',
            "RateLimit-Policy": f'"fixed window";"api";q={self.quota};w={self.window}',
        }
        return headers, refused


class HubApp:
    """The ASGI 3 application of a :class:`FakeHub` (connection closing needs uvicorn)."""

    def __init__(self, state: HubState) -> None:
        self.state = state
        self._stopping: asyncio.Event | None = None

    def bind_stop_event(self, event: asyncio.Event) -> None:
        """Called in the server's loop before serving."""
        self._stopping = event

    def signal_stop(self) -> None:
        """Called in the server's loop when the server stops."""
        if self._stopping is not None:
            self._stopping.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1003})
            return
        if await read_body(receive) is None:  # client went away before sending its body
            return
        headers: dict[str, str] = {}
        for raw_key, raw_value in scope["headers"]:
            key = raw_key.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        token = _bearer(headers.get("authorization"))
        method: str = scope["method"]
        path: str = scope["path"]
        now = time.monotonic()
        with self.state.lock:
            if self.state.down:
                response = None
                if self.state.down_status is not None:
                    response = _error(self.state.down_status, "Service Unavailable")
            else:
                response = self._answer(method, path, token, now)
            self.state.served += 1
            response_id = f"fakehub-{self.state.served:06d}"
            self.state.requests.append(
                HubRequest(
                    method=method,
                    path=path,
                    query=scope.get("query_string", b"").decode("latin-1"),
                    headers={k: v for k, v in headers.items() if k not in _SENSITIVE_HEADERS},
                    timestamp=now,
                    status=None if response is None else response.status_code,
                    token_digest=None if token is None else _digest(token),
                )
            )
        channel = Channel(scope, receive, send, stopping=self._stopping, stream_delay=0.0)
        try:
            if response is None:
                await channel.close(rst=False)
            else:
                response.headers["X-Request-Id"] = response_id
                await channel.respond(response)
        except ConnectionGone:
            return

    def _answer(self, method: str, path: str, token: str | None, now: float) -> JSONResponse:
        """Rate limit, route, Space, token: in that order (under the lock)."""
        limit_headers, refused = self.state.rate_headers(now)
        response = self._route(method, path, token, now, refused)
        response.headers.update(limit_headers)
        return response

    def _route(
        self, method: str, path: str, token: str | None, now: float, refused: int | None
    ) -> JSONResponse:
        if refused is not None:
            return _error(
                429,
                f"You have reached your 'api' rate limit; retry after {refused} seconds.",
            )
        match = _ROUTE.match(path)
        if match is None:
            return _error(404, "Not Found")
        if method not in ("GET", "HEAD"):
            return _error(405, "Method Not Allowed")
        space = self.state.spaces.get(f"{match['namespace']}/{match['name']}")
        if space is None:
            return _error(404, _NOT_FOUND, code="RepoNotFound")
        if space.private:
            assert space.token is not None  # add_space() requires one for a private Space
            if token is None:
                # The Hub does not say whether a private repo exists to an anonymous caller.
                return _error(401, _NO_LOGIN, code="RepoNotFound")
            if not hmac.compare_digest(token.encode(), space.token.encode()):
                if any(
                    other.token is not None
                    and hmac.compare_digest(token.encode(), other.token.encode())
                    for other in self.state.spaces.values()
                ):
                    # a known user without access to this Space
                    return _error(404, _NOT_FOUND, code="RepoNotFound")
                return _error(401, _INVALID_CREDENTIALS)
        if match["runtime"]:
            return JSONResponse(runtime_payload(space, now))
        return JSONResponse(_info_payload(space, now))


def _error(status: int, message: str, *, code: str | None = None) -> JSONResponse:
    headers = {"X-Error-Message": message}
    if code is not None:
        headers["X-Error-Code"] = code
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _bearer(value: str | None) -> str | None:
    if value is None:
        return None
    scheme, _, credentials = value.partition(" ")
    credentials = credentials.strip()
    return credentials if scheme.lower() == "bearer" and credentials else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
