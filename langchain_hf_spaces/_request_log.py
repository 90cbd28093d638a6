"""The request log: one structured record per call on the ``langchain_hf_spaces.requests`` logger.

:class:`RequestLogger` is a :class:`~langchain_hf_spaces._observe.CallObserver` (a default one of
every client). Each generation call gives one record at INFO, with a readable message and the
same facts as ``extra=`` fields, for a JSON log formatter or a log shipper:

==================  ==========================================================================
field               value
==================  ==========================================================================
``operation``       ``"text_completion"`` or ``"chat"``
``tier``            the tier name
``variant``         the tier's A/B variant (or ``None``)
``profile``         the settings profile (or ``None``)
``url``             the Space's URL
``protocol``        the protocol (``generate``, ``tgi``, ``gradio``, ``openai``; ``auto`` before
                    a first probe that failed)
``model``           the model or Space id, when known
``stream``          whether the answer was streamed
``status``          ``"ok"``, ``"error"``, or ``"abandoned"`` (a stream the caller left early)
``error_type``      the error's class name (``SpaceUnavailableError``...), else ``None``
``latency``         seconds, from the call's start to its end as the caller saw it
``attempts``        requests sent for the answer (retries included), when known
``retries``         retries after errors and rate limits
``waited``          seconds spent waiting (a Space waking, back-off, rate limits)
``prompt_tokens``   as the Space reported them (or ``None``)
``completion_tokens``
``cached``          whether the answer came from the response cache
``ttft``            seconds to the first streamed text (streams only)
``prompt``          the prompt or messages: only with ``log_prompts=True``
``completion``      the answer's text: only with ``log_prompts=True``
==================  ==========================================================================

Nothing is done (not even a clock read) while the logger is not enabled for the level. The
token is never part of a record: it is not in what observers are told.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from langchain_hf_spaces._answers import SpaceAnswer
from langchain_hf_spaces._observe import NOOP_SCOPE, CallScope, CallStart
from langchain_hf_spaces._policy import WaitEvent

__all__ = ["REQUEST_LOGGER", "RequestLogger"]

REQUEST_LOGGER = "langchain_hf_spaces.requests"
"""The logger the records go to."""

RETRY_REASONS = frozenset({"retrying", "rate_limited"})


class RequestLogger:
    """Logs one record per call (see the module's table of fields).

    Args:
        log_prompts: also log the prompt (or messages) and the answer's text. Off by default:
            prompts may hold personal data.
        level: the records' level (default ``logging.INFO``).
        logger: the logger or its name (default ``langchain_hf_spaces.requests``).
    """

    __slots__ = ("level", "log_prompts", "logger")

    def __init__(
        self,
        *,
        log_prompts: bool = False,
        level: int = logging.INFO,
        logger: logging.Logger | str = REQUEST_LOGGER,
    ) -> None:
        self.log_prompts = log_prompts
        self.level = level
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger

    def __repr__(self) -> str:
        return f"RequestLogger(log_prompts={self.log_prompts}, logger={self.logger.name!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {"log_prompts": self.log_prompts, "level": self.level, "logger": self.logger.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            log_prompts=state["log_prompts"], level=state["level"], logger=state["logger"]
        )

    def start(self, call: CallStart) -> CallScope:
        if not self.logger.isEnabledFor(self.level):
            return NOOP_SCOPE
        return _LogScope(self, call)


class _LogScope:
    __slots__ = ("_call", "_first", "_owner", "_retries", "_started", "_waited")

    def __init__(self, owner: RequestLogger, call: CallStart) -> None:
        self._owner = owner
        self._call = call
        self._started = time.perf_counter()
        self._first: float | None = None
        self._waited = 0.0
        self._retries = 0

    def on_wait(self, event: WaitEvent) -> None:
        self._waited += event.delay
        if event.reason in RETRY_REASONS:
            self._retries += 1

    def on_first_chunk(self) -> None:
        if self._first is None:
            self._first = time.perf_counter() - self._started

    def end(self, answer: SpaceAnswer | None, error: BaseException | None) -> None:
        latency = time.perf_counter() - self._started
        call = self._call
        if error is not None:
            status, error_type = "error", type(error).__name__
        elif answer is None:
            status, error_type = "abandoned", None
        else:
            status, error_type = "ok", None
        fields: dict[str, Any] = {
            "operation": call.operation,
            "tier": call.tier,
            "variant": call.variant,
            "profile": call.profile,
            "url": call.url,
            "protocol": answer.protocol if answer is not None else call.protocol,
            "model": call.model,
            "stream": call.stream,
            "status": status,
            "error_type": error_type,
            "latency": latency,
            "attempts": answer.attempts if answer is not None else None,
            "retries": self._retries,
            "waited": self._waited,
            "prompt_tokens": answer.prompt_tokens if answer is not None else None,
            "completion_tokens": answer.completion_tokens if answer is not None else None,
            "cached": bool(answer is not None and answer.cached),
        }
        if call.stream:
            fields["ttft"] = self._first
        if self._owner.log_prompts:
            fields["prompt"] = (
                call.prompt
                if call.messages is None
                else json.dumps(list(call.messages), ensure_ascii=False, default=str)
            )
            fields["completion"] = answer.text if answer is not None else None
        self._owner.logger.log(self._owner.level, _message(fields), extra=fields)


def _message(f: dict[str, Any]) -> str:
    where = f["tier"] if f["variant"] is None else f"{f['tier']}/{f['variant']}"
    if f["profile"] is not None:
        where = f"{f['profile']}:{where}"
    status = f["status"] if f["error_type"] is None else f"error {f['error_type']}"
    parts = [
        f"{f['operation']} {where} {f['url']} ({f['protocol']}): {status}",
        f"{f['latency'] * 1000:.0f} ms",
    ]
    if f["cached"]:
        parts.append("cached")
    if f["attempts"] is not None:
        parts.append(f"attempts={f['attempts']}")
    if f["waited"]:
        parts.append(f"waited={f['waited']:.1f}s")
    if f["prompt_tokens"] is not None or f["completion_tokens"] is not None:
        parts.append(f"tokens={f['prompt_tokens']}/{f['completion_tokens']}")
    return ", ".join(parts)
