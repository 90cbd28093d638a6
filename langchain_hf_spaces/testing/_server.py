"""``LocalSpace``: a real HTTP "Hugging Face Space" on loopback, for demos and tests."""

from __future__ import annotations

import functools
import time
from typing import TypeVar

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "langchain_hf_spaces.testing needs starlette and uvicorn: "
        'pip install "langchain-hf-spaces[server]"'
    ) from exc

from langchain_hf_spaces.testing._app import SpaceApp
from langchain_hf_spaces.testing._dialects import (
    DEFAULT_MAX_NEW_TOKENS_CAP,
    DEFAULT_MODEL_ID,
    AnswerShape,
)
from langchain_hf_spaces.testing._faults import Fault, SleepForm
from langchain_hf_spaces.testing._loopback import HOST, LoopbackServer, Served
from langchain_hf_spaces.testing._records import QueuedFault, RecordedRequest, SpaceState
from langchain_hf_spaces.testing._responders import Responder, demo_responder

__all__ = ["LocalSpace"]

_S = TypeVar("_S", bound="LocalSpace")


class LocalSpace(Served):
    """A real HTTP server on ``127.0.0.1`` that behaves like a Hugging Face Space.

    It serves the user guide's ``POST /api/generate`` (and versioned paths such as
    ``/v1/generate``), Text Generation Inference routes (``/generate``, ``/generate_stream``,
    ``/info``, ``/health``, TGI's ``POST /``) and OpenAI-compatible chat
    (``/v1/chat/completions``, ``/v1/completions``, ``/v1/models``), all answered by one
    *responder*. It records every request and can misbehave on demand (:class:`Fault`), on
    the socket, exactly as a client would see it::

        from langchain_hf_spaces.testing import Fault, LocalSpace

        with LocalSpace(name="base", token="hf_test") as space:
            space.inject(Fault.rate_limited(retry_after="1"), times=2)
            ...  # point your client at space.url with token "hf_test"
            assert [r.path for r in space.requests] == ["/api/generate"] * 3

    Each request is recorded first, then answered in this order: an injected fault, the token
    check (401), :meth:`sleep_for` (503), then the route.

    ``async with LocalSpace() as space:`` works too. The server runs uvicorn in a background
    thread with its own event loop, so it serves sync and async clients alike, and many
    spaces may run at once. :meth:`stop` takes about 0.2 s; a stopped space can be started
    again on the same port (a Space that went down and came back).

    Args:
        name: The Space's name, used in the demo answers and HTML pages.
        token: Makes the Space private: every request then needs
            ``Authorization: Bearer <token>`` (or ``X-HF-Authorization``), else 401.
        responder: ``(prompt, parameters) -> str`` (or a tool-call dict for chat); defaults to
            :func:`demo_responder` bound to ``name``. Runs in a worker thread.
        port: A fixed port; ``0`` (default) picks a free one.
        answer_shape: How ``/api/generate`` answers: ``"object"``, ``"list"`` or ``"echo"``.
        model_id: The ``model_id`` reported by ``GET /info``.
        stream_delay: Seconds between streamed events (default 0).
        truncate: Cut answers to ``max_new_tokens`` whitespace tokens, as a model would.
        max_tokens_cap: The largest ``max_new_tokens`` (TGI routes) or ``max_tokens`` (OpenAI
            routes) the Space takes; more is a 422, as a deployment answers.
        supports_tools: Whether ``/v1/chat/completions`` takes ``tools`` (else 422).
        supports_response_format: Whether it takes ``response_format`` (else 422).
        max_concurrent: Generation requests answered at once (``None``: no limit); past it a
            request is refused at once with TGI's 429 ``{"error": "Model is overloaded",
            "error_type": "overloaded"}`` (on every route, as TGI's router does), and
            ``GET /info`` reports it as ``max_concurrent_requests``.

    Like real servers, it refuses what they refuse (422, ``error_type: "validation"``): on TGI
    routes ``temperature: 0``, ``top_p: 1.0`` and unknown parameters; on OpenAI routes ``n``
    other than 1.
    """

    def __init__(
        self,
        name: str = "base",
        token: str | None = None,
        responder: Responder | None = None,
        *,
        port: int = 0,
        answer_shape: AnswerShape = "object",
        model_id: str = DEFAULT_MODEL_ID,
        stream_delay: float = 0.0,
        truncate: bool = True,
        max_tokens_cap: int = DEFAULT_MAX_NEW_TOKENS_CAP,
        supports_tools: bool = True,
        supports_response_format: bool = True,
        max_concurrent: int | None = None,
    ) -> None:
        if max_concurrent is not None and (
            isinstance(max_concurrent, bool)
            or not isinstance(max_concurrent, int)
            or max_concurrent < 1
        ):
            raise ValueError(f"max_concurrent must be a positive int or None: {max_concurrent!r}")
        if answer_shape not in ("object", "list", "echo"):
            raise ValueError(f"answer_shape must be 'object', 'list' or 'echo': {answer_shape!r}")
        if not 0 <= port <= 65535:
            raise ValueError(f"invalid port: {port}")
        if isinstance(max_tokens_cap, bool) or not isinstance(max_tokens_cap, int):
            raise ValueError(f"max_tokens_cap must be an int: {max_tokens_cap!r}")
        if max_tokens_cap <= 0:
            raise ValueError(f"max_tokens_cap must be positive: {max_tokens_cap}")
        if token is not None and not token:
            raise ValueError("token must be a non-empty string or None")
        if responder is None or responder is demo_responder:
            responder = functools.partial(demo_responder, name=name)
        self.name = name
        self._state = SpaceState()
        self._app = SpaceApp(
            name=name,
            token=token,
            responder=responder,
            answer_shape=answer_shape,
            model_id=model_id,
            stream_delay=stream_delay,
            truncate=truncate,
            state=self._state,
            max_tokens_cap=max_tokens_cap,
            supports_tools=supports_tools,
            supports_response_format=supports_response_format,
            max_concurrent=max_concurrent,
        )
        self._loopback = LoopbackServer(
            self._app, label=f"LocalSpace {name!r}", thread_name=f"LocalSpace[{name}]", port=port
        )

    def __repr__(self) -> str:
        where = f"url={self.url!r}" if self._loopback.port else "not started"
        private = ", private=True" if self.private else ""
        return f"LocalSpace(name={self.name!r}, {where}{private}, running={self.running})"

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        """The TCP port (known once started; kept after :meth:`stop`)."""
        if not self._loopback.port:
            raise RuntimeError("LocalSpace has no port yet: call start() or use `with`")
        return self._loopback.port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, no trailing slash."""
        return f"http://{HOST}:{self.port}"

    def url_for_host(self, host: str) -> str:
        """The same server under another host name, e.g. ``http://localhost:<port>``
        (for cross-host redirect tests: a client must not forward the token there)."""
        return f"http://{host}:{self.port}"

    @property
    def private(self) -> bool:
        """True when the Space was created with a token."""
        return self._app.private

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._loopback.running

    @property
    def app(self) -> SpaceApp:
        """The ASGI application (for mounting elsewhere; connection faults need uvicorn)."""
        return self._app

    # ------------------------------------------------------------------ recorded requests

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received, in arrival order (faulted ones included)."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def last_request(self) -> RecordedRequest | None:
        """The most recent request, or ``None``."""
        with self._state.lock:
            return self._state.requests[-1] if self._state.requests else None

    def clear_requests(self) -> None:
        """Forget recorded requests and reset :attr:`peak_concurrency`."""
        with self._state.lock:
            self._state.requests.clear()
            self._state.peak_in_flight = self._state.in_flight

    @property
    def peak_concurrency(self) -> int:
        """The most requests that were being answered at the same time (since the last
        :meth:`clear_requests`), e.g. to check a client's ``max_concurrency``."""
        with self._state.lock:
            return self._state.peak_in_flight

    @property
    def in_flight(self) -> int:
        """How many requests are being answered right now."""
        with self._state.lock:
            return self._state.in_flight

    # ------------------------------------------------------------------ faults

    def inject(self, fault: Fault, times: int | None = 1, *, path: str | None = None) -> None:
        """Queue ``fault`` for the next ``times`` requests (``None``: every request, forever).

        Faults are consumed first in, first out, one per request: a fault injected later waits
        until the earlier ones are used up. With ``path``, only requests to exactly that path
        take the fault (others pass it by); a :meth:`Fault.stream_cut` is only taken by
        streaming requests.
        """
        if not isinstance(fault, Fault):
            raise TypeError(f"inject() needs a Fault, got {type(fault).__name__}")
        if times is not None and (not isinstance(times, int) or times < 1):
            raise ValueError("times must be a positive int or None")
        with self._state.lock:
            self._state.faults.append(QueuedFault(fault, times, path))

    def clear_faults(self) -> None:
        """Drop every queued fault (a running :meth:`sleep_for` is not affected)."""
        with self._state.lock:
            self._state.faults.clear()

    @property
    def pending_faults(self) -> list[tuple[Fault, int | None]]:
        """Queued faults with how many requests each will still take (``None``: forever)."""
        with self._state.lock:
            return [(q.fault, q.remaining) for q in self._state.faults]

    def sleep_for(self, seconds: float, form: SleepForm = "html") -> None:
        """Put the Space to sleep: every request answers 503 for ``seconds``, then normally.

        ``form="html"`` answers Hugging Face's "This Space is sleeping" page; ``form="json"``
        answers ``{"error": "Model is currently loading", "estimated_time": <seconds left>}``.
        Injected faults still take precedence; authentication is checked first.
        """
        if form not in ("html", "json"):
            raise ValueError(f"form must be 'html' or 'json', got {form!r}")
        with self._state.lock:
            self._state.sleep_until = time.monotonic() + max(0.0, seconds)
            self._state.sleep_form = form

    def wake(self) -> None:
        """End a :meth:`sleep_for` early."""
        with self._state.lock:
            self._state.sleep_until = 0.0

    @property
    def asleep(self) -> bool:
        """True while a :meth:`sleep_for` is in effect."""
        with self._state.lock:
            return self._state.sleep_until > time.monotonic()

    # ------------------------------------------------------------------ lifecycle

    def start(self: _S) -> _S:
        """Start serving; returns once the port accepts connections. Returns ``self``."""
        if self._loopback.running:
            raise RuntimeError(f"{self!r} is already running")
        self._loopback.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving (idempotent). Connections in flight are closed; slow faults end at
        once. Usually takes about 0.2 s."""
        self._loopback.stop(timeout)
