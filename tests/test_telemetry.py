"""OpenTelemetry: the observer's spans, events and metrics, read back from the SDK's in-memory
exporter and reader. The observer is driven directly, with the real ``CallStart``,
``SpaceAnswer`` and ``WaitEvent`` dataclasses, as ``SpaceClient`` drives it (see
``test_telemetry_e2e.py`` for calls through a client against a real ``LocalSpace``)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from langchain_hf_spaces import SpaceAnswer, WaitEvent
from langchain_hf_spaces._observe import NOOP_SCOPE, CallStart
from langchain_hf_spaces.errors import SpaceTimeoutError, SpaceUnavailableError
from langchain_hf_spaces.telemetry import (
    CAPTURE_CONTENT_ENV,
    PROVIDER_NAME,
    OTelObserver,
    capture_content_from_env,
    default_observer,
)
from tests.conftest import PLANTED_TOKEN

URL = "https://acme-chat-staging.hf.space"
DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48]
DURATION_BUCKETS += [40.96, 81.92]
TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304]
TOKEN_BUCKETS += [16777216, 67108864]


@dataclass
class Otel:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def observer(self, **kwargs: Any) -> OTelObserver:
        return OTelObserver(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **kwargs
        )

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def points(self, name: str) -> list[HistogramDataPoint]:
        data = self.reader.get_metrics_data()
        out: list[HistogramDataPoint] = []
        if data is None:
            return out
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        out.extend(metric.data.data_points)  # type: ignore[arg-type]
        return out

    def metric_units(self) -> dict[str, str]:
        data = self.reader.get_metrics_data()
        assert data is not None
        return {
            m.name: m.unit or ""
            for r in data.resource_metrics
            for s in r.scope_metrics
            for m in s.metrics
        }


@pytest.fixture
def otel(monkeypatch: pytest.MonkeyPatch) -> Iterator[Otel]:
    monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Otel(spans, reader, tracer_provider, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def text_call(**overrides: Any) -> CallStart:
    values: dict[str, Any] = {
        "operation": "text_completion",
        "tier": "company",
        "url": URL,
        "protocol": "tgi",
        "model": "acme/chat-staging",
        "revision": "3f2a9c1",
        "profile": "staging",
        "variant": "b",
        "parameters": {
            "temperature": 0.7,
            "top_p": 0.9,
            "top_k": 40,
            "max_new_tokens": 64,
            "seed": 7,
            "stop": ["\n\n", "User:"],
            "repetition_penalty": 1.1,
        },
        "prompt": "Write a haiku about tea.",
    }
    values.update(overrides)
    return CallStart(**values)


def answer(**overrides: Any) -> SpaceAnswer:
    values: dict[str, Any] = {
        "text": "Leaves in hot water",
        "tier": "company",
        "url": URL,
        "revision": "3f2a9c1",
        "protocol": "tgi",
        "latency": 0.42,
        "attempts": 2,
        "finish_reason": "length",
        "prompt_tokens": 12,
        "completion_tokens": 64,
        "profile": "staging",
        "variant": "b",
    }
    values.update(overrides)
    return SpaceAnswer(**values)


CHAT_MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "rainy, 14 C"},
]


# --- the span ----------------------------------------------------------------------------------


def test_one_client_span_per_call_with_the_semconv_attributes(otel: Otel) -> None:
    scope = otel.observer().start(text_call())
    assert otel.finished() == []  # open until the call ends
    scope.end(answer(), None)

    [span] = otel.finished()
    assert span.name == "text_completion acme/chat-staging"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert span.parent is None
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "langchain_hf_spaces"
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "text_completion",
        "gen_ai.provider.name": "huggingface.spaces",
        "gen_ai.request.model": "acme/chat-staging",
        "server.address": "acme-chat-staging.hf.space",
        "server.port": 443,
        "gen_ai.request.temperature": 0.7,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.top_k": 40.0,
        "gen_ai.request.max_tokens": 64,
        "gen_ai.request.seed": 7,
        "gen_ai.request.stop_sequences": ("\n\n", "User:"),
        "hf_spaces.request.repetition_penalty": 1.1,
        "gen_ai.response.finish_reasons": ("length",),
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 64,
        "hf_spaces.tier": "company",
        "hf_spaces.url": URL,
        "hf_spaces.revision": "3f2a9c1",
        "hf_spaces.protocol": "tgi",
        "hf_spaces.profile": "staging",
        "hf_spaces.variant": "b",
        "hf_spaces.stream": False,
        "hf_spaces.attempts": 2,
        "hf_spaces.cached": False,
        "hf_spaces.waited_seconds": 0.0,
    }
    assert PROVIDER_NAME == "huggingface.spaces"


def test_the_sampling_attributes_are_there_when_the_span_starts(otel: Otel) -> None:
    seen: list[dict[str, Any]] = []

    class Spy(SimpleSpanProcessor):
        def on_start(self, span: Any, parent_context: Any = None) -> None:
            seen.append(dict(span.attributes))

    otel.tracer_provider.add_span_processor(Spy(otel.spans))
    otel.observer().start(text_call()).end(answer(), None)
    assert {
        "gen_ai.operation.name": "text_completion",
        "gen_ai.provider.name": "huggingface.spaces",
        "gen_ai.request.model": "acme/chat-staging",
        "server.address": "acme-chat-staging.hf.space",
        "server.port": 443,
    }.items() <= seen[0].items()


def test_the_answer_wins_over_what_was_known_at_the_start(otel: Otel) -> None:
    # An `auto` Space: the protocol and the revision are learnt during the call.
    call = text_call(protocol="auto", revision=None, model=None, url="http://127.0.0.1:7860")
    otel.observer().start(call).end(answer(protocol="openai", fallback_from="user"), None)
    [span] = otel.finished()
    attributes = span.attributes or {}
    assert span.name == "text_completion"  # no model known: the operation alone
    assert "gen_ai.request.model" not in attributes
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == 7860
    assert attributes["hf_spaces.protocol"] == "openai"
    assert attributes["hf_spaces.revision"] == "3f2a9c1"
    assert attributes["hf_spaces.fallback_from"] == "user"


def test_a_chat_call_is_a_chat_span_and_unknown_parameters_are_not_recorded(otel: Otel) -> None:
    call = CallStart(
        operation="chat",
        tier="base",
        url=URL,
        protocol="openai",
        model="meta-llama/Llama-3.1-8B-Instruct",
        parameters={"max_tokens": 16, "n": 2, "x_ip_token": PLANTED_TOKEN, "do_sample": True},
        messages=CHAT_MESSAGES,
    )
    otel.observer().start(call).end(answer(finish_reason=None, text="Rainy."), None)
    [span] = otel.finished()
    attributes = span.attributes or {}
    assert span.name == "chat meta-llama/Llama-3.1-8B-Instruct"
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.max_tokens"] == 16
    assert attributes["gen_ai.request.choice.count"] == 2
    assert "gen_ai.response.finish_reasons" not in attributes  # the Space did not say
    assert not [k for k in attributes if "ip_token" in k or "do_sample" in k]


def test_the_span_parent_is_the_span_current_at_start_and_it_is_not_made_current(
    otel: Otel,
) -> None:
    tracer = otel.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("handle request") as outer:
        scope = otel.observer().start(text_call())
        assert trace.get_current_span() is outer
    scope.end(answer(), None)
    spans = {s.name: s for s in otel.finished()}
    call_span = spans["text_completion acme/chat-staging"]
    assert call_span.parent is not None
    assert call_span.parent.span_id == outer.get_span_context().span_id
    assert call_span.context is not None
    assert call_span.context.trace_id == outer.get_span_context().trace_id


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"stop": "###"}, {"gen_ai.request.stop_sequences": ("###",)}),
        ({"temperature": 1}, {"gen_ai.request.temperature": 1.0}),
        ({"max_tokens": 32, "n": 1}, {"gen_ai.request.max_tokens": 32}),
        ({"temperature": True, "seed": "7", "stop": [], "n": True}, {}),  # not numbers: left out
        (
            {"frequency_penalty": 0.5, "presence_penalty": -0.5},
            {
                "gen_ai.request.frequency_penalty": 0.5,
                "gen_ai.request.presence_penalty": -0.5,
            },
        ),
    ],
)
def test_request_parameters_map_to_the_semconv_names(
    otel: Otel, parameters: dict[str, Any], expected: dict[str, Any]
) -> None:
    otel.observer().start(text_call(parameters=parameters)).end(answer(), None)
    [span] = otel.finished()
    recorded = {
        k: v
        for k, v in (span.attributes or {}).items()
        if k.startswith("gen_ai.request.") and k != "gen_ai.request.model"
    }
    assert recorded == expected


# --- waits -------------------------------------------------------------------------------------


def test_retries_and_wake_waits_are_span_events(otel: Otel) -> None:
    scope = otel.observer().start(text_call())
    scope.on_wait(
        WaitEvent(
            reason="waking",
            tier="company",
            url=URL,
            elapsed=0.0,
            delay=2.0,
            budget=600.0,
            attempt=1,
            detail="HTTP 503",
            status_code=503,
            stage="SLEEPING",
        )
    )
    scope.on_wait(
        WaitEvent(
            reason="rate_limited",
            tier="company",
            url=URL,
            elapsed=2.5,
            delay=1.5,
            attempt=1,
            max_attempts=3,
            detail="HTTP 429",
            status_code=429,
        )
    )
    scope.on_wait(
        WaitEvent(reason="retrying", tier="company", url=URL, elapsed=4.0, delay=0.25, attempt=2)
    )
    scope.end(answer(attempts=3), None)

    [span] = otel.finished()
    assert [e.name for e in span.events] == ["hf_spaces.wait"] * 3
    waking, limited, retrying = (dict(e.attributes or {}) for e in span.events)
    assert waking == {
        "hf_spaces.wait.reason": "waking",
        "hf_spaces.wait.delay": 2.0,
        "hf_spaces.wait.elapsed": 0.0,
        "hf_spaces.wait.attempt": 1,
        "hf_spaces.wait.budget": 600.0,
        "hf_spaces.wait.status_code": 503,
        "hf_spaces.wait.detail": "HTTP 503",
        "hf_spaces.wait.stage": "SLEEPING",
    }
    assert limited["hf_spaces.wait.reason"] == "rate_limited"
    assert limited["hf_spaces.wait.max_attempts"] == 3
    assert limited["hf_spaces.wait.status_code"] == 429
    assert retrying == {
        "hf_spaces.wait.reason": "retrying",
        "hf_spaces.wait.delay": 0.25,
        "hf_spaces.wait.elapsed": 4.0,
        "hf_spaces.wait.attempt": 2,
    }
    attributes = span.attributes or {}
    assert attributes["hf_spaces.waited_seconds"] == pytest.approx(3.75)
    assert attributes["hf_spaces.attempts"] == 3


# --- errors ------------------------------------------------------------------------------------


def test_a_failed_call_has_error_type_and_status_error(otel: Otel) -> None:
    error = SpaceUnavailableError(
        "The Space answered HTTP 503 after 3 retries.", tier="company", url=URL, status_code=503
    )
    scope = otel.observer().start(text_call())
    scope.end(None, error)

    [span] = otel.finished()
    attributes = span.attributes or {}
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "The Space answered HTTP 503 after 3 retries."
    assert attributes["error.type"] == "SpaceUnavailableError"
    assert attributes["hf_spaces.status_code"] == 503
    assert "gen_ai.usage.input_tokens" not in attributes
    assert [e.name for e in span.events] == ["exception"]
    exception = dict(span.events[0].attributes or {})
    assert exception["exception.type"].endswith("SpaceUnavailableError")

    [duration] = otel.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "SpaceUnavailableError"
    assert otel.points("gen_ai.client.token.usage") == []


def test_any_exception_is_recorded_by_its_class_name(otel: Otel) -> None:
    otel.observer().start(text_call()).end(None, TimeoutError("read timed out"))
    [span] = otel.finished()
    assert (span.attributes or {})["error.type"] == "TimeoutError"
    assert "hf_spaces.status_code" not in (span.attributes or {})
    assert span.status.description == "read timed out"


# --- metrics -----------------------------------------------------------------------------------


def test_duration_and_token_usage_metrics_with_the_semconv_buckets(otel: Otel) -> None:
    observer = otel.observer()
    observer.start(text_call()).end(answer(), None)
    observer.start(text_call()).end(answer(prompt_tokens=30, completion_tokens=None), None)

    units = otel.metric_units()
    assert units["gen_ai.client.operation.duration"] == "s"
    assert units["gen_ai.client.token.usage"] == "{token}"
    assert "gen_ai.client.operation.time_to_first_chunk" not in units  # no stream, no metric

    [duration] = otel.points("gen_ai.client.operation.duration")
    assert duration.count == 2
    assert list(duration.explicit_bounds) == DURATION_BUCKETS
    assert dict(duration.attributes) == {
        "gen_ai.operation.name": "text_completion",
        "gen_ai.provider.name": "huggingface.spaces",
        "gen_ai.request.model": "acme/chat-staging",
        "server.address": "acme-chat-staging.hf.space",
        "server.port": 443,
        "hf_spaces.tier": "company",
        "hf_spaces.profile": "staging",
        "hf_spaces.variant": "b",
    }

    points = otel.points("gen_ai.client.token.usage")
    tokens = {p.attributes["gen_ai.token.type"]: p for p in points}
    assert set(tokens) == {"input", "output"}
    assert (tokens["input"].count, tokens["input"].sum) == (2, 42)
    assert (tokens["output"].count, tokens["output"].sum) == (1, 64)  # unknown is not zero
    assert list(tokens["input"].explicit_bounds) == TOKEN_BUCKETS
    assert tokens["input"].attributes["hf_spaces.tier"] == "company"


def test_time_to_first_chunk_is_recorded_once_for_a_stream(otel: Otel) -> None:
    scope = otel.observer().start(text_call(stream=True))
    scope.on_first_chunk()
    scope.on_first_chunk()  # later chunks are not first
    scope.end(answer(), None)

    [first] = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert first.count == 1
    assert list(first.explicit_bounds) == DURATION_BUCKETS
    assert first.attributes["gen_ai.operation.name"] == "text_completion"
    assert otel.metric_units()["gen_ai.client.operation.time_to_first_chunk"] == "s"
    [span] = otel.finished()
    attributes = span.attributes or {}
    assert attributes["hf_spaces.stream"] is True
    assert attributes["gen_ai.response.time_to_first_chunk"] == pytest.approx(first.sum)
    [duration] = otel.points("gen_ai.client.operation.duration")
    assert duration.sum >= first.sum


def test_a_cache_hit_is_marked_and_spends_no_tokens(otel: Otel) -> None:
    otel.observer().start(text_call()).end(answer(cached=True, attempts=0), None)
    [span] = otel.finished()
    attributes = span.attributes or {}
    assert attributes["hf_spaces.cached"] is True
    assert "gen_ai.usage.input_tokens" not in attributes
    assert "gen_ai.usage.output_tokens" not in attributes
    [duration] = otel.points("gen_ai.client.operation.duration")
    assert duration.attributes["hf_spaces.cached"] is True
    assert otel.points("gen_ai.client.token.usage") == []


def test_end_twice_records_one_call(otel: Otel) -> None:
    scope = otel.observer().start(text_call())
    scope.end(answer(), None)
    scope.end(None, RuntimeError("late"))
    scope.on_first_chunk()
    [span] = otel.finished()
    assert span.status.status_code is StatusCode.UNSET
    [duration] = otel.points("gen_ai.client.operation.duration")
    assert duration.count == 1


# --- message content ---------------------------------------------------------------------------


def test_content_is_not_recorded_by_default(otel: Otel) -> None:
    observer = otel.observer()
    assert observer.capture_content is False
    observer.start(text_call()).end(answer(), None)
    call = CallStart("chat", "base", URL, "openai", "m", messages=CHAT_MESSAGES)
    observer.start(call).end(answer(), None)
    for span in otel.finished():
        attributes = span.attributes or {}
        assert "gen_ai.input.messages" not in attributes
        assert "gen_ai.output.messages" not in attributes
        dumped = span.to_json()
        assert "Write a haiku" not in dumped
        assert "Paris" not in dumped
        assert "Leaves in hot water" not in dumped


def test_prompt_and_answer_are_recorded_when_opted_in(otel: Otel) -> None:
    otel.observer(capture_content=True).start(text_call()).end(answer(), None)
    [span] = otel.finished()
    attributes = span.attributes or {}
    assert json.loads(str(attributes["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": "Write a haiku about tea."}]}
    ]
    assert json.loads(str(attributes["gen_ai.output.messages"])) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Leaves in hot water"}],
            "finish_reason": "length",
        }
    ]


def test_chat_messages_and_tool_calls_follow_the_semconv_message_schemas(otel: Otel) -> None:
    call = CallStart("chat", "base", URL, "openai", "m", messages=CHAT_MESSAGES)
    reply = answer(
        text="",
        reasoning="The user wants a forecast.",
        finish_reason="tool_calls",
        tool_calls=[{"id": "call_2", "name": "get_forecast", "arguments": {"days": 3}}],
    )
    otel.observer(capture_content=True).start(call).end(reply, None)
    [span] = otel.finished()
    attributes = span.attributes or {}
    assert json.loads(str(attributes["gen_ai.input.messages"])) == [
        {"role": "system", "parts": [{"type": "text", "content": "You are terse."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "get_weather",
                    "arguments": {"city": "Paris"},
                }
            ],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call_1", "result": "rainy, 14 C"}],
        },
    ]
    assert json.loads(str(attributes["gen_ai.output.messages"])) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "The user wants a forecast."},
                {
                    "type": "tool_call",
                    "id": "call_2",
                    "name": "get_forecast",
                    "arguments": {"days": 3},
                },
            ],
            "finish_reason": "tool_call",
        }
    ]
    assert attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)  # as the Space said


def test_images_are_named_not_copied(otel: Otel) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "What is it?"}, image]}]
    call = CallStart("chat", "base", URL, "openai", "m", messages=messages)
    otel.observer(capture_content=True).start(call).end(answer(), None)
    [span] = otel.finished()
    recorded = json.loads(str((span.attributes or {})["gen_ai.input.messages"]))
    assert recorded[0]["parts"] == [
        {"type": "text", "content": "What is it?"},
        {"type": "image_url"},
    ]


@pytest.mark.parametrize(
    ("value", "captured"),
    [
        ("true", True),
        ("True", True),
        ("SPAN_ONLY", True),
        ("span_and_event", True),
        ("false", False),
        ("NO_CONTENT", False),
        ("", False),
    ],
)
def test_the_environment_variable_opts_in(
    otel: Otel, monkeypatch: pytest.MonkeyPatch, value: str, captured: bool
) -> None:
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, value)
    observer = otel.observer()
    assert observer.capture_content is captured
    observer.start(text_call()).end(answer(), None)
    [span] = otel.finished()
    assert ("gen_ai.input.messages" in (span.attributes or {})) is captured


@pytest.mark.parametrize("value", ["EVENT_ONLY", "maybe"])
def test_values_that_record_no_content_on_spans_say_so(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="langchain_hf_spaces.telemetry"):
        assert capture_content_from_env({CAPTURE_CONTENT_ENV: value}) is False
    assert CAPTURE_CONTENT_ENV in caplog.text
    assert "not recorded" in caplog.text or "none is recorded" in caplog.text


def test_the_argument_beats_the_environment(otel: Otel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "true")
    assert otel.observer(capture_content=False).capture_content is False
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "false")
    assert otel.observer(capture_content=True).capture_content is True


def test_no_token_anywhere_even_with_content_on(otel: Otel) -> None:
    call = text_call(parameters={"temperature": 0.5, "x_ip_token": PLANTED_TOKEN})
    observer = otel.observer(capture_content=True)
    scope = observer.start(call)
    scope.on_wait(WaitEvent("retrying", "company", URL, 0.0, 0.1, attempt=1))
    scope.end(answer(), None)
    observer.start(call).end(None, SpaceTimeoutError("read timed out", tier="company", url=URL))
    dumped = [span.to_json() for span in otel.finished()]
    data = otel.reader.get_metrics_data()
    assert data is not None
    dumped.append(data.to_json())
    assert len(dumped) == 3
    assert not [d for d in dumped if PLANTED_TOKEN in d or "x_ip_token" in d]


# --- monitoring never fails a call -------------------------------------------------------------


class _BrokenTracerProvider(trace.TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _BrokenTracer()


class _BrokenTracer(trace.NoOpTracer):
    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        raise RuntimeError("exporter exploded")


class _BrokenSpan(trace.NonRecordingSpan):
    def is_recording(self) -> bool:
        return True

    def add_event(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("event exploded")

    def set_attribute(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("attribute exploded")

    def end(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("end exploded")


class _HalfBrokenTracer(trace.NoOpTracer):
    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return _BrokenSpan(trace.INVALID_SPAN_CONTEXT)


class _HalfBrokenTracerProvider(trace.TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _HalfBrokenTracer()


def test_a_tracer_that_raises_at_start_gives_a_noop_scope(
    otel: Otel, caplog: pytest.LogCaptureFixture
) -> None:
    observer = OTelObserver(
        tracer_provider=_BrokenTracerProvider(), meter_provider=otel.meter_provider
    )
    with caplog.at_level(logging.DEBUG, logger="langchain_hf_spaces.telemetry"):
        scope = observer.start(text_call())
    assert scope is NOOP_SCOPE
    assert "could not start" in caplog.text
    assert "exporter exploded" in caplog.text


def test_a_span_that_raises_later_never_reaches_the_caller(
    otel: Otel, caplog: pytest.LogCaptureFixture
) -> None:
    observer = OTelObserver(
        tracer_provider=_HalfBrokenTracerProvider(), meter_provider=otel.meter_provider
    )
    with caplog.at_level(logging.DEBUG, logger="langchain_hf_spaces.telemetry"):
        scope = observer.start(text_call(stream=True))
        scope.on_wait(WaitEvent("retrying", "company", URL, 0.0, 0.1, attempt=1))
        scope.on_first_chunk()
        scope.end(answer(), None)
    assert "could not record a wait" in caplog.text
    assert "could not record the first chunk" in caplog.text
    assert "could not end the span" in caplog.text
    assert [r.levelno for r in caplog.records] == [logging.DEBUG] * 3


# --- without opentelemetry ---------------------------------------------------------------------


def test_default_observer_is_one_shared_observer() -> None:
    first = default_observer()
    assert isinstance(first, OTelObserver)
    assert default_observer() is first


def test_importing_the_package_does_not_import_opentelemetry() -> None:
    code = (
        "import sys, langchain_hf_spaces, langchain_hf_spaces.telemetry; "
        "print(any(m.startswith('opentelemetry') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_without_opentelemetry_there_is_no_default_observer() -> None:
    code = """
import sys
sys.modules["opentelemetry"] = None  # as if opentelemetry-api were not installed
import langchain_hf_spaces
from langchain_hf_spaces.telemetry import OTelObserver, default_observer
assert default_observer() is None
assert default_observer() is None
try:
    OTelObserver()
except ImportError as exc:
    print("ImportError:", exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'langchain-hf-spaces[otel]'" in out.stdout
