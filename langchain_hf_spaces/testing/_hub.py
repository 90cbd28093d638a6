"""``FakeHub``: a small Hugging Face Hub API on loopback, to point ``HF_ENDPOINT`` at."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TypeVar

from langchain_hf_spaces.testing._hub_app import (
    HubApp,
    HubRequest,
    HubSpace,
    HubState,
    runtime_payload,
)
from langchain_hf_spaces.testing._loopback import HOST, LoopbackServer, Served

__all__ = ["FakeHub", "ScriptStep"]

_H = TypeVar("_H", bound="FakeHub")
_SPACE_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_MAX_LABEL = 63

ScriptStep = tuple[float, str] | tuple[float, str, str | None]
"""``(seconds, stage)`` or ``(seconds, stage, error_message)`` for :meth:`FakeHub.script`."""


class FakeHub(Served):
    """A real HTTP server on ``127.0.0.1`` answering the Hub's Space API as the Hub does.

    Point a client at it through ``HF_ENDPOINT`` (or ``HfApi(endpoint=hub.url)``)::

        from huggingface_hub import HfApi
        from langchain_hf_spaces.testing import FakeHub

        with FakeHub() as hub:
            hub.add_space("acme/base-llm", stage="SLEEPING")
            hub.script("acme/base-llm", [(0.2, "APP_STARTING"), (0.4, "RUNNING")])
            api = HfApi(endpoint=hub.url)
            assert api.get_space_runtime("acme/base-llm").stage == "SLEEPING"

    It serves ``GET /api/spaces/{id}/runtime`` and ``GET /api/spaces/{id}`` (see
    :mod:`langchain_hf_spaces.testing._hub_app` for the shapes), records every request
    (:attr:`requests`, without credentials), counts requests against a fixed-window quota
    (``quota`` requests per ``window`` seconds, answered in ``RateLimit`` headers and with
    429 past it), and can be rate limited (:meth:`rate_limit`) or taken down (:meth:`down`) on
    demand. Each request is answered in this order: down, rate limit, unknown Space (404),
    private Space without its token (401), the route.

    Args:
        quota: Requests allowed per window (the Hub's anonymous ``api`` quota is 500).
        window: The window in seconds (the Hub's is 300).
        port: A fixed port; ``0`` (default) picks a free one.
    """

    def __init__(self, *, quota: int = 500, window: int = 300, port: int = 0) -> None:
        if quota < 1 or window < 1:
            raise ValueError("quota and window must be positive")
        self._state = HubState(quota=quota, window=window)
        self._app = HubApp(self._state)
        self._loopback = LoopbackServer(
            self._app, label="FakeHub", thread_name="FakeHub", port=port
        )

    def __repr__(self) -> str:
        where = f"url={self.url!r}" if self._loopback.port else "not started"
        return f"FakeHub({where}, spaces={len(self._state.spaces)}, running={self.running})"

    # ------------------------------------------------------------------ address and records

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, no trailing slash: the value for ``HF_ENDPOINT``."""
        if not self._loopback.port:
            raise RuntimeError("FakeHub has no port yet: call start() or use `with`")
        return f"http://{HOST}:{self._loopback.port}"

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._loopback.running

    @property
    def requests(self) -> list[HubRequest]:
        """A snapshot of every request received, in arrival order."""
        with self._state.lock:
            return list(self._state.requests)

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._state.lock:
            self._state.requests.clear()

    # ------------------------------------------------------------------ Spaces

    def add_space(
        self,
        space_id: str,
        *,
        stage: str = "RUNNING",
        hardware: str | None = "cpu-basic",
        requested_hardware: str | None = None,
        private: bool = False,
        token: str | None = None,
        host: str | None = None,
        subdomain: str | None = None,
        error_message: str | None = None,
        gc_timeout: int | None = 172800,
        sdk: str = "gradio",
    ) -> None:
        """Create (or replace) the Space ``space_id`` (``"namespace/name"``).

        Args:
            stage: Its stage, an open string (``RUNNING``, ``SLEEPING``, ``PAUSED``, ...).
            hardware: The current hardware, reported as ``hardware.current``; ``None`` when
                nothing is allocated (the Hub reports ``null`` then, e.g. while it builds).
            requested_hardware: ``hardware.requested``; defaults to ``hardware``.
            private: Needs ``Authorization: Bearer <token>``; else 401 as on the Hub.
            token: The token that may read a private Space (required when ``private``).
            host: Where the Space is served, e.g. a :class:`LocalSpace` URL; defaults to
                ``https://<subdomain>.hf.space``.
            subdomain: Defaults to the Hub's label for the id (``acme/Base_LLM`` ->
                ``acme-base-llm``); must be given (or ``host``) when that label would be
                longer than 63 characters, as the Hub then picks another one.
            error_message: ``errorMessage`` (only sent when set), e.g. for ``RUNTIME_ERROR``.
            gc_timeout: ``gcTimeout``, the sleep time in seconds (``None``: never sleeps).
            sdk: ``gradio``, ``docker``, ``static`` or ``streamlit``.
        """
        if not _SPACE_ID.match(space_id):
            raise ValueError(f"space_id must be 'namespace/name', got {space_id!r}")
        _check_stage(stage)
        if private and not token:
            raise ValueError("a private Space needs a token")
        if token is not None and not token:
            raise ValueError("token must be a non-empty string or None")
        if subdomain is None:
            subdomain = _label(space_id)
            if len(subdomain) > _MAX_LABEL:
                if host is None:
                    raise ValueError(
                        f"the label {subdomain!r} is over {_MAX_LABEL} characters: give "
                        "subdomain= or host= (the Hub picks another host for long names)"
                    )
                subdomain = (_hostname(host).split(".")[0] or subdomain)[:_MAX_LABEL]
        space = HubSpace(
            space_id=space_id,
            stage=stage,
            hardware=hardware,
            requested_hardware=hardware if requested_hardware is None else requested_hardware,
            private=private,
            token=token,
            host=f"https://{subdomain}.hf.space" if host is None else host.rstrip("/"),
            subdomain=subdomain,
            error_message=error_message,
            gc_timeout=gc_timeout,
            sdk=sdk,
            created_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        )
        with self._state.lock:
            self._state.spaces[space_id] = space

    def set_stage(self, space_id: str, stage: str, *, error_message: str | None = None) -> None:
        """Set the Space's stage now (ends a running :meth:`script`)."""
        _check_stage(stage)
        with self._state.lock:
            space = self._space(space_id)
            space.stage, space.error_message, space.script = stage, error_message, ()

    def script(self, space_id: str, steps: Sequence[ScriptStep]) -> None:
        """Change the stage over time: each ``(seconds, stage[, error_message])`` step takes
        effect ``seconds`` after this call; before the first, the current stage holds, and
        the last one stays. E.g. a Space that wakes up::

            hub.add_space("acme/base-llm", stage="SLEEPING")
            hub.script("acme/base-llm", [(1.5, "APP_STARTING"), (3.0, "RUNNING")])

        Replaces an earlier script; :meth:`set_stage` ends it.
        """
        start = time.monotonic()
        timeline: list[tuple[float, str, str | None]] = []
        previous = 0.0
        for step in steps:
            seconds, stage = step[0], step[1]
            message = step[2] if len(step) == 3 else None
            if seconds < previous:
                raise ValueError("script steps must be in time order, with seconds >= 0")
            _check_stage(stage)
            timeline.append((start + seconds, stage, message))
            previous = seconds
        with self._state.lock:
            space = self._space(space_id)
            # The stage at this moment stays the base of the script.
            space.stage, space.error_message = space.stage_at(start)
            space.script = tuple(timeline)

    def stage(self, space_id: str) -> str:
        """The Space's stage now."""
        with self._state.lock:
            return self._space(space_id).stage_at(time.monotonic())[0]

    def runtime(self, space_id: str) -> dict[str, object]:
        """What ``GET /api/spaces/{space_id}/runtime`` answers now."""
        with self._state.lock:
            return runtime_payload(self._space(space_id), time.monotonic())

    def _space(self, space_id: str) -> HubSpace:
        try:
            return self._state.spaces[space_id]
        except KeyError:
            raise KeyError(f"FakeHub has no Space {space_id!r}: call add_space()") from None

    # ------------------------------------------------------------------ misbehaviour

    def rate_limit(self, times: int = 1, *, reset: int = 60) -> None:
        """Answer the next ``times`` requests with 429 and ``RateLimit: "api";r=0;t=<reset>``
        (plus ``RateLimit-Policy``), as the Hub does when its ``api`` quota is spent."""
        if not isinstance(times, int) or times < 1:
            raise ValueError("times must be a positive int")
        if not isinstance(reset, int) or reset < 0:
            raise ValueError("reset must be a whole number of seconds >= 0")
        with self._state.lock:
            self._state.forced_limits, self._state.forced_reset = times, reset

    def down(self, *, status: int | None = None) -> None:
        """Take the Hub down: every request then has its connection closed without an answer
        (``status=None``) or gets ``status`` (e.g. 503) with a JSON error, until :meth:`up`.
        (For a refused connection, :meth:`stop` the hub.)"""
        if status is not None and not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status, got {status}")
        with self._state.lock:
            self._state.down, self._state.down_status = True, status

    def up(self) -> None:
        """End :meth:`down`."""
        with self._state.lock:
            self._state.down, self._state.down_status = False, None

    # ------------------------------------------------------------------ lifecycle

    def start(self: _H) -> _H:
        """Start serving; returns once the port accepts connections. Returns ``self``."""
        self._loopback.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving (idempotent); :meth:`start` serves again on the same port."""
        self._loopback.stop(timeout)


def _check_stage(stage: str) -> None:
    if not isinstance(stage, str) or not stage:
        raise ValueError(f"stage must be a non-empty string, got {stage!r}")


def _label(space_id: str) -> str:
    """The Hub's host label for a Space id: lower case, every other character a dash."""
    return re.sub(r"[^a-z0-9-]", "-", space_id.lower())


def _hostname(url: str) -> str:
    rest = url.split("://", 1)[-1]
    return rest.split("/", 1)[0].split(":", 1)[0]
