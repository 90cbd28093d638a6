"""Per-call cost of the OpenTelemetry observer (issue #17): not a test, a measurement.

    PYTHONPATH=. python benchmarks/telemetry_overhead.py [--calls 2000] [--rounds 9]

No server: the observer is driven as ``SpaceClient`` drives it, for a plain call (``start`` then
``end``) and for a streamed call that waited once (``start``, ``on_wait``, ``on_first_chunk``,
``end``), with realistic ``CallStart`` / ``SpaceAnswer`` / ``WaitEvent`` values. Setups:

* ``none``: no observer (the loop alone: the baseline subtracted from the others);
* ``api only``: ``OTelObserver()`` with ``opentelemetry-api`` and no SDK configured (what
  ``default_observer()`` costs someone who never set up tracing);
* ``sdk simple``: the SDK, a ``SimpleSpanProcessor`` into an ``InMemorySpanExporter``, and a
  ``MeterProvider`` with an ``InMemoryMetricReader``;
* ``sdk batch``: the same with a ``BatchSpanProcessor`` (export off the caller's thread);
* ``sdk simple + content``: ``capture_content=True`` (prompt and answer as JSON on the span).

Setups run interleaved, round after round (shuffled each round); the figure is the median over
rounds of microseconds per call, minus the ``none`` baseline. ``--clock cpu`` counts the calling
thread's CPU time instead of wall time (steadier on a busy machine; a batch processor's export
thread is then not counted, as it does not delay the caller).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from importlib.metadata import version

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from langchain_hf_spaces import SpaceAnswer, WaitEvent
from langchain_hf_spaces._observe import CallStart
from langchain_hf_spaces._telemetry import OTelObserver

URL = "https://acme-chat.hf.space"
CALL = CallStart(
    operation="text_completion",
    tier="base",
    url=URL,
    protocol="tgi",
    model="acme/chat",
    revision="3f2a9c1",
    parameters={"temperature": 0.7, "top_p": 0.9, "max_new_tokens": 256, "seed": 7},
    prompt="Write a haiku about tea. " * 8,
)
STREAM = CallStart(**{**{f: getattr(CALL, f) for f in CALL.__slots__}, "stream": True})
ANSWER = SpaceAnswer(
    text="Leaves in hot water, " * 10,
    tier="base",
    url=URL,
    revision="3f2a9c1",
    protocol="tgi",
    latency=0.8,
    attempts=2,
    finish_reason="length",
    prompt_tokens=48,
    completion_tokens=256,
)
WAIT = WaitEvent("retrying", "base", URL, 0.0, 0.5, attempt=1, detail="HTTP 503", status_code=503)


class Setup:
    def __init__(self, name: str, observer: OTelObserver | None, flush: Callable[[], None]):
        self.name = name
        self.observer = observer
        self.flush = flush


def setups(calls: int) -> list[Setup]:
    out = [Setup("none", None, lambda: None), Setup("api only", OTelObserver(), lambda: None)]
    for name, batch, content in (
        ("sdk simple", False, False),
        ("sdk batch", True, False),
        ("sdk simple + content", False, True),
    ):
        exporter = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        processor = (
            BatchSpanProcessor(exporter, max_queue_size=calls * 2, schedule_delay_millis=200)
            if batch
            else SimpleSpanProcessor(exporter)
        )
        tracer_provider.add_span_processor(processor)
        reader = InMemoryMetricReader()
        meter_provider = MeterProvider(metric_readers=[reader])
        observer = OTelObserver(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            capture_content=content,
        )

        def flush(tp: TracerProvider = tracer_provider, e: InMemorySpanExporter = exporter) -> None:
            tp.force_flush()
            e.clear()

        out.append(Setup(name, observer, flush))
    return out


CLOCK: Callable[[], float] = time.perf_counter


def plain(observer: OTelObserver | None, calls: int) -> float:
    start = CLOCK()
    if observer is None:
        for _ in range(calls):
            pass
    else:
        for _ in range(calls):
            observer.start(CALL).end(ANSWER, None)
    return (CLOCK() - start) / calls * 1e6


def streamed(observer: OTelObserver | None, calls: int) -> float:
    start = CLOCK()
    if observer is None:
        for _ in range(calls):
            pass
    else:
        for _ in range(calls):
            scope = observer.start(STREAM)
            scope.on_wait(WAIT)
            scope.on_first_chunk()
            scope.end(ANSWER, None)
    return (CLOCK() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="calls per setup per round")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.thread_time if args.clock == "cpu" else time.perf_counter
    all_setups = setups(args.calls)
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        order = all_setups[:]
        random.shuffle(order)
        for setup in order:
            for shape, run in (("call", plain), ("stream+wait", streamed)):
                results.setdefault((setup.name, shape), []).append(run(setup.observer, args.calls))
                setup.flush()
    print(
        f"opentelemetry-sdk {version('opentelemetry-sdk')}, {args.calls} calls x "
        f"{args.rounds} rounds, {args.clock} clock; microseconds per call (median), minus the "
        "'none' loop"
    )
    print(f"{'setup':24} {'call':>10} {'stream+wait':>12}")
    base = {shape: statistics.median(results[("none", shape)]) for shape in ("call", "stream+wait")}
    for setup in all_setups:
        if setup.name == "none":
            continue
        row = [
            statistics.median(results[(setup.name, shape)]) - base[shape]
            for shape in ("call", "stream+wait")
        ]
        print(f"{setup.name:24} {row[0]:10.1f} {row[1]:12.1f}")


if __name__ == "__main__":
    main()
