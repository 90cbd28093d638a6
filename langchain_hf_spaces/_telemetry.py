"""OpenTelemetry for every call: one CLIENT span and the GenAI client metrics (``gen_ai.*``).

:class:`OTelObserver` is a :class:`~langchain_hf_spaces._observe.CallObserver` that follows the
OpenTelemetry semantic conventions for generative AI (status Development; the names of semconv
v1.41 and of ``open-telemetry/semantic-conventions-genai``): a span named
``"{gen_ai.operation.name} {gen_ai.request.model}"`` per call, waits (retries, rate limits, a
Space waking, a queue) as ``hf_spaces.wait`` span events, and the histograms
``gen_ai.client.operation.duration``, ``gen_ai.client.token.usage`` and (streams)
``gen_ai.client.operation.time_to_first_chunk`` with the conventions' bucket boundaries.

Only ``opentelemetry-api`` is needed (the ``otel`` extra). It is imported when an observer is
made, never by ``import langchain_hf_spaces``; :func:`default_observer` is ``None`` without it.
Spans and metrics go to the providers given, else to the global ones (set them before or after:
the API's proxies follow). The span's parent is the span current when the call starts; the
call's span is not made current (the call runs inside generators whose context we do not own).

Message content (``gen_ai.input.messages`` / ``gen_ai.output.messages``, JSON strings on the
span) is recorded only when opted in: ``capture_content=True``, or
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` set to ``true`` / ``SPAN_ONLY`` /
``SPAN_AND_EVENT`` (the values the ``opentelemetry-instrumentation-*-v2`` packages read).
Tokens, headers and unknown parameters (an end user's ``x_ip_token``) are never recorded.

Every method catches what goes wrong and logs it at DEBUG: monitoring never fails a call.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from langchain_hf_spaces._constants import VERSION
from langchain_hf_spaces._observe import NOOP_SCOPE, CallObserver, CallScope, CallStart

if TYPE_CHECKING:
    from opentelemetry.metrics import Histogram, MeterProvider
    from opentelemetry.trace import Span, TracerProvider

    from langchain_hf_spaces._answers import SpaceAnswer
    from langchain_hf_spaces._policy import WaitEvent

__all__ = [
    "CAPTURE_CONTENT_ENV",
    "DURATION_BUCKETS",
    "PROVIDER_NAME",
    "TOKEN_BUCKETS",
    "OTelObserver",
    "capture_content_from_env",
    "default_observer",
]

logger = logging.getLogger("langchain_hf_spaces.telemetry")

SCOPE = "langchain_hf_spaces"
"""The instrumentation scope name of our tracer and meter."""

PROVIDER_NAME = "huggingface.spaces"
"""``gen_ai.provider.name``: no well-known value fits, so a custom one in the registry's
``{vendor}.{product}`` form (``aws.bedrock``, ``gcp.vertex_ai``, ``ibm.watsonx.ai``): the
platform that hosts the model, whatever the protocol (``hf_spaces.protocol`` says which)."""

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

DURATION_BUCKETS: tuple[float, ...] = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
"""Seconds: the explicit boundaries the conventions give ``gen_ai.client.operation.duration``
and ``gen_ai.client.operation.time_to_first_chunk``."""

TOKEN_BUCKETS: tuple[int, ...] = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
"""The explicit boundaries the conventions give ``gen_ai.client.token.usage``."""

DURATION_METRIC = "gen_ai.client.operation.duration"
TOKEN_METRIC = "gen_ai.client.token.usage"  # noqa: S105 - a metric name
FIRST_CHUNK_METRIC = "gen_ai.client.operation.time_to_first_chunk"
WAIT_EVENT = "hf_spaces.wait"

_CONTENT_ON = frozenset({"true", "1", "yes", "on", "span_only", "span_and_event"})
_CONTENT_OFF = frozenset({"", "false", "0", "no", "off", "no_content"})

# Our generation parameters -> the conventions' request attributes (numbers only).
_NUMERIC_REQUEST = (
    ("temperature", "gen_ai.request.temperature", float),
    ("top_p", "gen_ai.request.top_p", float),
    ("top_k", "gen_ai.request.top_k", float),
    ("max_new_tokens", "gen_ai.request.max_tokens", int),
    ("max_tokens", "gen_ai.request.max_tokens", int),
    ("seed", "gen_ai.request.seed", int),
    ("frequency_penalty", "gen_ai.request.frequency_penalty", float),
    ("presence_penalty", "gen_ai.request.presence_penalty", float),
    ("repetition_penalty", "hf_spaces.request.repetition_penalty", float),
)

# What Spaces report (TGI, OpenAI-compatible servers) -> the output-messages schema's values.
_FINISH = {
    "stop": "stop",
    "eos_token": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "tool_calls": "tool_call",
    "function_call": "tool_call",
    "tool_call": "tool_call",
    "content_filter": "content_filter",
    "error": "error",
}


def capture_content_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` opts in to content.

    ``true`` (the boolean of the older instrumentations), ``SPAN_ONLY`` and ``SPAN_AND_EVENT``
    (the enum of the newer ones) do; unset, ``false`` and ``NO_CONTENT`` do not. ``EVENT_ONLY``
    does not either, with a warning: content is recorded on spans only, never as log events.
    """
    raw = (os.environ if environ is None else environ).get(CAPTURE_CONTENT_ENV, "")
    value = raw.strip().lower()
    if value in _CONTENT_ON:
        return True
    if value == "event_only":
        logger.warning(
            "%s=EVENT_ONLY: langchain-hf-spaces records message content on spans only, so "
            "none is recorded; use SPAN_ONLY to record it.",
            CAPTURE_CONTENT_ENV,
        )
    elif value not in _CONTENT_OFF:
        logger.warning(
            "%s=%r is not one of true, false, NO_CONTENT, SPAN_ONLY, SPAN_AND_EVENT: message "
            "content is not recorded.",
            CAPTURE_CONTENT_ENV,
            raw,
        )
    return False


class OTelObserver:
    """Spans and metrics for every call, after the OpenTelemetry GenAI semantic conventions.

    Args:
        tracer_provider: where spans go; default: the global provider.
        meter_provider: where metrics go; default: the global provider.
        capture_content: record prompts, messages and answers on the span
            (``gen_ai.input.messages`` / ``gen_ai.output.messages``); default: what
            ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` says (off when unset).

    Raises:
        ImportError: ``opentelemetry-api`` is not installed (``pip install
            "langchain-hf-spaces[otel]"``).
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        capture_content: bool | None = None,
    ) -> None:
        try:
            from opentelemetry import metrics, trace
        except ImportError as exc:
            raise ImportError(
                "OTelObserver needs opentelemetry-api: pip install 'langchain-hf-spaces[otel]'."
            ) from exc
        from opentelemetry.trace import Status, StatusCode

        self.capture_content = (
            capture_content_from_env() if capture_content is None else bool(capture_content)
        )
        self._tracer = trace.get_tracer(SCOPE, VERSION, tracer_provider)
        meter = metrics.get_meter(SCOPE, VERSION, meter_provider)
        self._duration: Histogram = meter.create_histogram(
            DURATION_METRIC,
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._tokens: Histogram = meter.create_histogram(
            TOKEN_METRIC,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self._first_chunk: Histogram = meter.create_histogram(
            FIRST_CHUNK_METRIC,
            unit="s",
            description=(
                "Time to receive the first chunk, measured from when the client issues the "
                "generation request to when the first chunk is received in the response stream."
            ),
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._client = trace.SpanKind.CLIENT
        self._status = Status
        self._error = StatusCode.ERROR

    def __repr__(self) -> str:
        return f"OTelObserver(capture_content={self.capture_content})"

    def start(self, call: CallStart) -> CallScope:
        try:
            return _Scope(self, call)
        except Exception:
            logger.debug("OpenTelemetry: could not start the span of a call", exc_info=True)
            return NOOP_SCOPE


class _Scope:
    """One call: its span, its clock and what it waited."""

    __slots__ = ("_call", "_ended", "_first", "_metric", "_observer", "_span", "_t0", "_waited")

    def __init__(self, observer: OTelObserver, call: CallStart) -> None:
        self._observer = observer
        self._call = call
        self._waited = 0.0
        self._first: float | None = None
        self._ended = False
        self._metric = metric_attributes(call)
        attributes = dict(self._metric)
        attributes.update(span_attributes(call))
        if observer.capture_content:
            content = input_messages(call)
            if content is not None:
                attributes["gen_ai.input.messages"] = _json(content)
        name = f"{call.operation} {call.model}" if call.model else call.operation
        self._span: Span = observer._tracer.start_span(
            name, kind=observer._client, attributes=attributes
        )
        self._t0 = time.perf_counter()

    def on_wait(self, event: WaitEvent) -> None:
        try:
            self._waited += max(float(event.delay), 0.0)
            if self._span.is_recording():
                self._span.add_event(WAIT_EVENT, wait_attributes(event))
        except Exception:
            logger.debug("OpenTelemetry: could not record a wait", exc_info=True)

    def on_first_chunk(self) -> None:
        try:
            if self._first is not None or self._ended:
                return
            self._first = time.perf_counter() - self._t0
            self._observer._first_chunk.record(self._first, self._metric)
            self._span.set_attribute("gen_ai.response.time_to_first_chunk", self._first)
        except Exception:
            logger.debug("OpenTelemetry: could not record the first chunk", exc_info=True)

    def end(self, answer: SpaceAnswer | None, error: BaseException | None) -> None:
        if self._ended:
            return
        self._ended = True
        try:
            self._end(answer, error)
        except Exception:
            logger.debug("OpenTelemetry: could not end the span of a call", exc_info=True)

    def _end(self, answer: SpaceAnswer | None, error: BaseException | None) -> None:
        duration = time.perf_counter() - self._t0
        observer, span = self._observer, self._span
        metric = self._metric
        recording = span.is_recording()
        if recording:
            span.set_attribute("hf_spaces.waited_seconds", self._waited)
        if error is not None:
            kind = type(error).__qualname__
            metric = {**metric, "error.type": kind}
            if recording:
                span.set_attribute("error.type", kind)
                status_code = getattr(error, "status_code", None)
                if isinstance(status_code, int) and not isinstance(status_code, bool):
                    span.set_attribute("hf_spaces.status_code", status_code)
                span.record_exception(error)
            span.set_status(observer._status(observer._error, _describe(error)))
        elif answer is not None:
            if answer.cached:
                metric = {**metric, "hf_spaces.cached": True}
            if recording:
                span.set_attributes(answer_attributes(answer))
                if observer.capture_content:
                    span.set_attribute("gen_ai.output.messages", _json(output_messages(answer)))
            if not answer.cached:  # a cache hit spent no tokens
                for kind, count in (
                    ("input", answer.prompt_tokens),
                    ("output", answer.completion_tokens),
                ):
                    if count is not None:
                        observer._tokens.record(count, {**metric, "gen_ai.token.type": kind})
        observer._duration.record(duration, metric)
        span.end()


@functools.lru_cache(maxsize=256)
def _server(url: str) -> tuple[str | None, int | None]:
    """``server.address`` and ``server.port`` of a Space URL (a client has few: cached)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None, None
    if parts.hostname is None:
        return None, None
    if port is None:
        port = {"https": 443, "http": 80}.get(parts.scheme)
    return parts.hostname, port


def metric_attributes(call: CallStart) -> dict[str, Any]:
    """What every metric point of the call carries (low cardinality: no URL path, no prompt)."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": call.operation,
        "gen_ai.provider.name": PROVIDER_NAME,
        "hf_spaces.tier": call.tier,
    }
    if call.model:
        attributes["gen_ai.request.model"] = call.model
    host, port = _server(call.url)
    if host is not None:
        attributes["server.address"] = host
        if port is not None:
            attributes["server.port"] = port
    if call.profile is not None:
        attributes["hf_spaces.profile"] = call.profile
    if call.variant is not None:
        attributes["hf_spaces.variant"] = call.variant
    return attributes


def span_attributes(call: CallStart) -> dict[str, Any]:
    """The span's attributes known at its start beyond :func:`metric_attributes`."""
    attributes: dict[str, Any] = {
        "hf_spaces.url": call.url,
        "hf_spaces.protocol": call.protocol,
        "hf_spaces.stream": call.stream,
    }
    if call.revision is not None:
        attributes["hf_spaces.revision"] = call.revision
    attributes.update(request_attributes(call.parameters))
    return attributes


def request_attributes(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """``gen_ai.request.*`` from the call's generation parameters (known names only)."""
    attributes: dict[str, Any] = {}
    for name, key, kind in _NUMERIC_REQUEST:
        value = parameters.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[key] = kind(value)
    stop = parameters.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if isinstance(stop, (list, tuple)) and stop and all(isinstance(s, str) for s in stop):
        attributes["gen_ai.request.stop_sequences"] = list(stop)
    n = parameters.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n != 1:
        attributes["gen_ai.request.choice.count"] = n
    return attributes


def answer_attributes(answer: SpaceAnswer) -> dict[str, Any]:
    """The response's attributes: finish reason, token usage, and how the answer was made."""
    attributes: dict[str, Any] = {
        "hf_spaces.protocol": answer.protocol,
        "hf_spaces.attempts": answer.attempts,
        "hf_spaces.cached": answer.cached,
    }
    if answer.finish_reason:
        attributes["gen_ai.response.finish_reasons"] = [answer.finish_reason]
    if not answer.cached:
        if answer.prompt_tokens is not None:
            attributes["gen_ai.usage.input_tokens"] = answer.prompt_tokens
        if answer.completion_tokens is not None:
            attributes["gen_ai.usage.output_tokens"] = answer.completion_tokens
    if answer.revision is not None:
        attributes["hf_spaces.revision"] = answer.revision
    if answer.fallback_from is not None:
        attributes["hf_spaces.fallback_from"] = answer.fallback_from
    return attributes


def wait_attributes(event: WaitEvent) -> dict[str, Any]:
    """The attributes of one ``hf_spaces.wait`` span event."""
    attributes: dict[str, Any] = {
        "hf_spaces.wait.reason": event.reason,
        "hf_spaces.wait.delay": float(event.delay),
        "hf_spaces.wait.elapsed": float(event.elapsed),
        "hf_spaces.wait.attempt": event.attempt,
    }
    if event.max_attempts is not None:
        attributes["hf_spaces.wait.max_attempts"] = event.max_attempts
    if event.budget is not None:
        attributes["hf_spaces.wait.budget"] = float(event.budget)
    if event.status_code is not None:
        attributes["hf_spaces.wait.status_code"] = event.status_code
    if event.detail:
        attributes["hf_spaces.wait.detail"] = event.detail
    if event.stage is not None:
        attributes["hf_spaces.wait.stage"] = event.stage
    return attributes


def input_messages(call: CallStart) -> list[dict[str, Any]] | None:
    """The call's input in the conventions' input-messages form (content: opt-in only)."""
    if call.messages is not None:
        return [_input_message(m) for m in call.messages]
    if call.prompt is not None:
        return [{"role": "user", "parts": [{"type": "text", "content": call.prompt}]}]
    return None


def _input_message(message: Mapping[str, Any]) -> dict[str, Any]:
    role = str(message.get("role", ""))
    content = message.get("content")
    if role == "tool":
        part = {"type": "tool_call_response", "id": message.get("tool_call_id"), "result": content}
        return {"role": role, "parts": [part]}
    parts: list[dict[str, Any]] = []
    if isinstance(content, str):
        if content:
            parts.append({"type": "text", "content": content})
    elif isinstance(content, Sequence):
        for item in content:
            if not isinstance(item, Mapping):
                continue
            if item.get("type") == "text":
                parts.append({"type": "text", "content": str(item.get("text", ""))})
            else:  # images, audio: named, not copied (they can be megabytes of base64)
                parts.append({"type": str(item.get("type", "unknown"))})
    for tool_call in message.get("tool_calls") or ():
        if not isinstance(tool_call, Mapping):
            continue
        function = tool_call.get("function")
        function = function if isinstance(function, Mapping) else {}
        parts.append(
            {
                "type": "tool_call",
                "id": tool_call.get("id"),
                "name": function.get("name"),
                "arguments": _arguments(function.get("arguments")),
            }
        )
    return {"role": role, "parts": parts}


def output_messages(answer: SpaceAnswer) -> list[dict[str, Any]]:
    """The answer in the conventions' output-messages form (content: opt-in only)."""
    parts: list[dict[str, Any]] = []
    if answer.reasoning:
        parts.append({"type": "reasoning", "content": answer.reasoning})
    if answer.text:
        parts.append({"type": "text", "content": answer.text})
    for tool_call in answer.tool_calls or ():
        parts.append(
            {
                "type": "tool_call",
                "id": tool_call.get("id"),
                "name": tool_call.get("name"),
                "arguments": tool_call.get("arguments"),
            }
        )
    if answer.finish_reason:
        finish = _FINISH.get(answer.finish_reason, answer.finish_reason)
    else:
        finish = "tool_call" if answer.tool_calls else "unknown"
    return [{"role": "assistant", "parts": parts, "finish_reason": finish}]


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            return raw
    return raw


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _describe(error: BaseException) -> str:
    message = getattr(error, "message", None)
    text = message if isinstance(message, str) else str(error)
    return text if len(text) <= 500 else text[:499] + "…"


_default: OTelObserver | None = None
_default_missing = False
_default_lock = threading.Lock()


def default_observer() -> CallObserver | None:
    """The shared :class:`OTelObserver` on the global providers, or ``None`` without
    ``opentelemetry-api`` (then nothing is recorded and nothing is imported)."""
    global _default, _default_missing
    if _default is not None or _default_missing:
        return _default
    with _default_lock:
        if _default is None and not _default_missing:
            try:
                import opentelemetry.metrics
                import opentelemetry.trace  # noqa: F401
            except ImportError:
                _default_missing = True
                return None
            try:
                _default = OTelObserver()
            except Exception:
                logger.debug("OpenTelemetry: no default observer", exc_info=True)
                _default_missing = True
    return _default
