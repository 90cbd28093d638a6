"""Watching calls: what monitoring (stats, request logs, OpenTelemetry) is told about each call.

No I/O. ``SpaceClient`` tells every observer it has about each call it makes: one
:meth:`CallObserver.start` when the call begins, then, on the :class:`CallScope` it returned,
``on_wait`` for every wait (a retry's back-off, a rate limit, a sleeping Space waking, a queue
position), ``on_first_chunk`` when a stream yields its first text, and exactly one ``end`` with
the answer or the error. An answer replayed from the response cache ends with
``answer.cached`` true. A stream the caller stops reading (closed, abandoned) ends with
``end(None, None)``; an async call cancelled ends with the ``CancelledError``. Observers should
not raise: ``SpaceClient`` logs what one raises (at DEBUG) and goes on, so the caller's call never
fails because monitoring did.

:func:`default_observers` is what a client watches with when given ``observers=None``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from langchain_hf_spaces._answers import SpaceAnswer
    from langchain_hf_spaces._policy import WaitEvent

__all__ = ["NOOP_SCOPE", "CallObserver", "CallScope", "CallStart", "default_observers"]


@dataclass(frozen=True, slots=True)
class CallStart:
    """What is known when a call begins (never the token)."""

    operation: str
    """``"text_completion"`` (a prompt) or ``"chat"`` (messages): ``gen_ai.operation.name``."""
    tier: str
    url: str
    protocol: str
    """The protocol configured or detected so far (``auto`` before the first probe)."""
    model: str | None
    """The model name when the settings give one (``model``), else the Space id, else ``None``."""
    revision: str | None = None
    profile: str | None = None
    variant: str | None = None
    stream: bool = False
    parameters: Mapping[str, Any] = field(default_factory=dict)
    """The generation parameters as validated (``temperature``, ``max_new_tokens``, ``seed``...)."""
    prompt: str | None = None
    """The full prompt (context applied) of a text call; content: report it only when opted in."""
    messages: Sequence[Mapping[str, Any]] | None = None
    """The messages of a chat call; content: report them only when opted in."""
    cache_lookup: bool = False
    """True when the response cache is asked first (a hit then ends with ``answer.cached``,
    anything else is a miss)."""


class CallScope(Protocol):
    """One call being watched."""

    def on_wait(self, event: WaitEvent) -> None: ...

    def on_first_chunk(self) -> None: ...

    def end(self, answer: SpaceAnswer | None, error: BaseException | None) -> None: ...


class CallObserver(Protocol):
    """Something that watches calls (stats, the request log, OpenTelemetry)."""

    def start(self, call: CallStart) -> CallScope: ...


class _NoopScope:
    __slots__ = ()

    def on_wait(self, event: WaitEvent) -> None:
        return None

    def on_first_chunk(self) -> None:
        return None

    def end(self, answer: SpaceAnswer | None, error: BaseException | None) -> None:
        return None


NOOP_SCOPE: CallScope = _NoopScope()
"""A scope that ignores everything (an observer with nothing to record returns it)."""


def default_observers() -> list[CallObserver]:
    """The observers of a client given ``observers=None``: the request log (one INFO record per
    call on the ``langchain_hf_spaces.requests`` logger, when that level is enabled) and, when
    ``opentelemetry`` is installed, the shared :class:`~langchain_hf_spaces.telemetry.OTelObserver`
    (spans and metrics go to the global providers; a no-op until an SDK is configured)."""
    from langchain_hf_spaces._request_log import RequestLogger
    from langchain_hf_spaces._telemetry import default_observer

    observers: list[CallObserver] = [RequestLogger()]
    otel = default_observer()
    if otel is not None:
        observers.append(otel)
    return observers
