"""OpenTelemetry end to end: ``SpaceClient(..., observers=[OTelObserver(...)])`` against a real
``LocalSpace``, sync and async, plain calls and streams, waits, errors and content opt-in; the
spans and metrics read back from the SDK's in-memory exporter and reader."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from langchain_hf_spaces import SpaceClient, SpaceConfig, SpaceNotFoundError
from langchain_hf_spaces.telemetry import CAPTURE_CONTENT_ENV, OTelObserver
from langchain_hf_spaces.testing import Fault, LocalSpace
from tests.conftest import PLANTED_TOKEN

MODEL = "acme/demo-model"


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


@pytest.fixture
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="base") as running:
        yield running


def client_for(space: LocalSpace, otel: Otel, protocol: str = "tgi", **kwargs: Any) -> SpaceClient:
    config = SpaceConfig(url=space.url, protocol=protocol, model=MODEL, wake_poll_interval=0.1)
    return SpaceClient(config, tier="company", observers=[otel.observer(**kwargs)])


def port_of(space: LocalSpace) -> int:
    return int(space.url.rsplit(":", 1)[1])


def check_call_span(span: ReadableSpan, space: LocalSpace, *, stream: bool) -> None:
    attributes = span.attributes or {}
    assert span.name == f"text_completion {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert attributes["gen_ai.operation.name"] == "text_completion"
    assert attributes["gen_ai.provider.name"] == "huggingface.spaces"
    assert attributes["gen_ai.request.model"] == MODEL
    assert attributes["gen_ai.request.max_tokens"] == 8
    assert attributes["gen_ai.request.seed"] == 3
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == port_of(space)
    assert attributes["gen_ai.response.finish_reasons"] == ("length",)
    assert attributes["gen_ai.usage.output_tokens"] == 8
    assert attributes["hf_spaces.tier"] == "company"
    assert attributes["hf_spaces.url"] == space.url
    assert attributes["hf_spaces.protocol"] == "tgi"
    assert attributes["hf_spaces.stream"] is stream
    assert attributes["hf_spaces.attempts"] == 1
    assert attributes["hf_spaces.cached"] is False


def test_a_sync_call_makes_one_span_and_the_metrics(space: LocalSpace, otel: Otel) -> None:
    with client_for(space, otel) as client:
        answer = client.complete("Hello there", max_new_tokens=8, seed=3)
    assert answer.completion_tokens == 8
    [span] = otel.finished()
    check_call_span(span, space, stream=False)
    [duration] = otel.points("gen_ai.client.operation.duration")
    assert duration.count == 1
    assert duration.attributes["server.port"] == port_of(space)
    [output] = [
        p
        for p in otel.points("gen_ai.client.token.usage")
        if p.attributes["gen_ai.token.type"] == "output"
    ]
    assert output.sum == 8
    assert otel.points("gen_ai.client.operation.time_to_first_chunk") == []


def test_an_async_call_is_a_child_of_the_current_span(space: LocalSpace, otel: Otel) -> None:
    tracer = otel.tracer_provider.get_tracer("app")

    async def main() -> None:
        with tracer.start_as_current_span("handle request"):
            async with client_for(space, otel) as client:
                await client.acomplete("Hello there", max_new_tokens=8, seed=3)

    asyncio.run(main())
    spans = {s.name: s for s in otel.finished()}
    span = spans[f"text_completion {MODEL}"]
    check_call_span(span, space, stream=False)
    outer = spans["handle request"]
    assert span.parent is not None and outer.context is not None
    assert span.parent.span_id == outer.context.span_id


def test_a_sync_stream_records_the_time_to_first_chunk(space: LocalSpace, otel: Otel) -> None:
    with client_for(space, otel) as client:
        text = "".join(client.stream("Hello there", max_new_tokens=8, seed=3))
    assert text
    [span] = otel.finished()
    check_call_span(span, space, stream=True)
    [first] = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert first.count == 1
    assert (span.attributes or {})["gen_ai.response.time_to_first_chunk"] == pytest.approx(
        first.sum
    )


def test_an_async_stream_records_the_time_to_first_chunk(space: LocalSpace, otel: Otel) -> None:
    async def main() -> str:
        async with client_for(space, otel) as client:
            return "".join([c async for c in client.astream("Hello", max_new_tokens=8, seed=3)])

    assert asyncio.run(main())
    [span] = otel.finished()
    check_call_span(span, space, stream=True)
    [first] = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert first.count == 1


def test_rate_limits_and_a_sleeping_space_are_span_events(space: LocalSpace, otel: Otel) -> None:
    with client_for(space, otel) as client:
        space.inject(Fault.rate_limited(retry_after="0"))
        client.complete("Busy?", max_new_tokens=8, seed=3)
        space.sleep_for(0.3)
        client.complete("Wake up", max_new_tokens=8, seed=3)
    limited, woken = otel.finished()
    [event] = limited.events
    assert event.name == "hf_spaces.wait"
    assert (event.attributes or {})["hf_spaces.wait.reason"] == "rate_limited"
    assert (event.attributes or {})["hf_spaces.wait.status_code"] == 429
    assert (limited.attributes or {})["hf_spaces.attempts"] == 2
    reasons = {(e.attributes or {})["hf_spaces.wait.reason"] for e in woken.events}
    assert reasons == {"waking"}
    assert (woken.attributes or {})["hf_spaces.waited_seconds"] > 0


def test_a_failed_call_is_an_error_span(space: LocalSpace, otel: Otel) -> None:
    async def main() -> None:
        async with client_for(space, otel) as client:
            space.inject(Fault.status(404))
            with pytest.raises(SpaceNotFoundError):
                await client.acomplete("Anyone?", max_new_tokens=8)

    asyncio.run(main())
    [span] = otel.finished()
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "SpaceNotFoundError"
    [duration] = otel.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "SpaceNotFoundError"


def test_chat_content_when_opted_in_and_never_the_token(otel: Otel) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hi"},
    ]
    with LocalSpace(name="base", token=PLANTED_TOKEN) as space:
        config = SpaceConfig(url=space.url, protocol="openai", model=MODEL, token=PLANTED_TOKEN)
        observer = otel.observer(capture_content=True)
        with SpaceClient(config, observers=[observer]) as client:
            answer = client.chat(messages, max_tokens=5)
            streamed = [c for c in client.chat_stream_chunks(messages, max_tokens=5)]
    assert streamed
    plain, stream = otel.finished()
    for span in (plain, stream):
        attributes = span.attributes or {}
        assert span.name == f"chat {MODEL}"
        assert json.loads(str(attributes["gen_ai.input.messages"])) == [
            {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
            {"role": "user", "parts": [{"type": "text", "content": "Say hi"}]},
        ]
        assert PLANTED_TOKEN not in span.to_json()
    output = json.loads(str((plain.attributes or {})["gen_ai.output.messages"]))
    assert output[0]["parts"] == [{"type": "text", "content": answer.text}]
    data = otel.reader.get_metrics_data()
    assert data is not None
    assert PLANTED_TOKEN not in data.to_json()
