"""What monitoring and the response cache add per call, off vs on.

    python benchmarks/overhead.py [--quick]

Two settings, each a median of interleaved, rotated rounds (``run.interleaved``):

* **live**: ``SpaceClient.complete`` against a LocalSpace in another process
  (``benchmarks/serve.py``), so the server does not share this interpreter's GIL. Every call
  sends a new prompt (a counter), so a cache is always a miss: its cost is a look-up and a store.
* **in-process**: the same client over ``httpx.MockTransport`` (no socket): the per-call
  difference is not hidden by the network's noise.

Plus cache hits (no request at all), sync and async, and the monitoring code alone (the watch
``SpaceClient`` begins and ends around each call; no HTTP), where a busy machine's noise is
smallest. Nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from run import interleaved, server  # noqa: E402

PROMPT = "Write one sentence about tea."


def _clients(url: str, tmp: Path, **http: Any) -> dict[str, Any]:
    from langchain_hf_spaces import (
        MemoryCache,
        RequestLogger,
        SpaceClient,
        SpaceConfig,
        SpacesStats,
        SQLiteCache,
    )

    cfg = SpaceConfig(url=url, protocol="tgi")
    on_log = _on_log()
    return {
        "off (observers=[], no cache)": SpaceClient(cfg, observers=[], **http),
        "default observers (log off)": SpaceClient(cfg, **http),
        "stats observer": SpaceClient(cfg, observers=[SpacesStats()], **http),
        "request log on (INFO)": SpaceClient(cfg, observers=[RequestLogger(logger=on_log)], **http),
        "stats + log on": SpaceClient(
            cfg, observers=[SpacesStats(), RequestLogger(logger=on_log)], **http
        ),
        "MemoryCache miss + store": SpaceClient(
            cfg, observers=[], cache=MemoryCache(deterministic_only=False), **http
        ),
        "SQLiteCache miss + store": SpaceClient(
            cfg,
            observers=[],
            cache=SQLiteCache(tmp / "miss.db", deterministic_only=False),
            **http,
        ),
    }


def _on_log() -> logging.Logger:
    """A request logger enabled at INFO, its records formatted and dropped (a NullHandler
    would skip the formatting a real handler does)."""
    log = logging.getLogger("bench.requests")
    if not log.handlers:

        class Formatted(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                self.format(record)

        log.setLevel(logging.INFO)
        log.addHandler(Formatted())
        log.propagate = False
    return log


def _unique(client: Any) -> Callable[[], Any]:
    counter = itertools.count()
    return lambda: client.complete(f"{PROMPT} #{next(counter)}", max_new_tokens=8)


def _report(title: str, medians: dict[str, float]) -> None:
    base = next(iter(medians.values()))
    print(f"\n{title}")
    print(f"  {'contender':<34} {'per call':>12} {'vs off':>12}")
    for name, value in medians.items():
        print(f"  {name:<34} {value * 1e6:9.1f} us {(value - base) * 1e6:+9.1f} us")


def bench_live(tmp: Path, rounds: int, calls: int) -> dict[str, float]:
    with server() as srv:
        clients = _clients(srv.url, tmp)
        medians = interleaved(
            {name: _unique(c) for name, c in clients.items()}, rounds=rounds, calls=calls
        )
        for c in clients.values():
            c.close()
    _report("live: LocalSpace in another process (every call a new prompt)", medians)
    return medians


def _mock_handler() -> Any:
    import httpx

    body = json.dumps({"generated_text": "Tea is a calm drink."}).encode()

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    return handle


def bench_in_process(tmp: Path, rounds: int, calls: int) -> dict[str, float]:
    import httpx

    transport = httpx.MockTransport(_mock_handler())
    clients = _clients(
        "https://bench-space.hf.space",
        tmp / "inproc",
        http_client=httpx.Client(transport=transport),
    )
    (tmp / "inproc").mkdir(exist_ok=True)
    medians = interleaved(
        {name: _unique(c) for name, c in clients.items()}, rounds=rounds, calls=calls
    )
    _report("in-process: httpx.MockTransport (no socket)", medians)
    return medians


def bench_hits(tmp: Path, rounds: int, calls: int) -> dict[str, float]:
    from langchain_hf_spaces import MemoryCache, SpaceClient, SpaceConfig, SpacesStats, SQLiteCache

    with server() as srv:
        cfg = SpaceConfig(url=srv.url, protocol="tgi")
        plain = SpaceClient(cfg, observers=[])
        memory = SpaceClient(cfg, observers=[], cache=MemoryCache())
        counted = SpaceClient(cfg, observers=[SpacesStats()], cache=MemoryCache())
        sqlite = SpaceClient(cfg, observers=[], cache=SQLiteCache(tmp / "hits.db"))
        for c in (memory, counted, sqlite):
            c.complete(PROMPT, seed=1)  # stored once; every call below is a hit

        def sync(c: Any) -> Callable[[], Any]:
            return lambda: c.complete(PROMPT, seed=1)

        loop = asyncio.new_event_loop()

        def asyn(c: Any) -> Callable[[], Any]:
            return lambda: loop.run_until_complete(c.acomplete(PROMPT, seed=1))

        medians = interleaved(
            {
                "no cache (a request)": sync(plain),
                "MemoryCache hit": sync(memory),
                "MemoryCache hit + stats": sync(counted),
                "SQLiteCache hit": sync(sqlite),
                "async MemoryCache hit": asyn(memory),
                "async SQLiteCache hit (to_thread)": asyn(sqlite),
            },
            rounds=rounds,
            calls=calls,
        )
        loop.close()
        for c in (plain, memory, counted, sqlite):
            c.close()
    _report("cache hits (no request) vs a request to the LocalSpace", medians)
    return medians


def bench_monitor_alone(tmp: Path, rounds: int, calls: int) -> dict[str, float]:
    """What a call's monitoring costs on its own (no HTTP): the watch begun and ended, as
    ``SpaceClient`` does around each call, plus the cache's key, look-up and store."""
    from langchain_hf_spaces import (
        MemoryCache,
        RequestLogger,
        SpaceAnswer,
        SpaceConfig,
        SpacesStats,
        SQLiteCache,
    )
    from langchain_hf_spaces._flow import SpaceCore, TextCall
    from langchain_hf_spaces._observe import default_observers
    from langchain_hf_spaces._watch import Monitor

    core = SpaceCore(SpaceConfig(url="https://bench-space.hf.space", protocol="tgi"), "base")
    answer = SpaceAnswer("Tea is calm.", "base", core.config.url, None, "tgi", 0.01, 1)
    on_log = _on_log()
    counter = itertools.count()

    def watched(monitor: Monitor, *, deterministic: bool = False) -> Callable[[], Any]:
        def one() -> None:
            params = {"seed": 1} if deterministic else {}
            call = TextCall(f"{PROMPT} #{next(counter)}", params)
            watch = monitor.begin(core, call, stream=False, on_wait=None)
            if watch is None:
                return
            with watch:
                if watch.lookup() is None:
                    watch.store(answer)
                watch.done(answer)

        return one

    monitors = {
        "no observer, no cache": Monitor([], None),
        "default observers (log off)": Monitor(default_observers(), None),
        "stats observer": Monitor([SpacesStats()], None),
        "request log on (INFO)": Monitor([RequestLogger(logger=on_log)], None),
        "stats + log on": Monitor([SpacesStats(), RequestLogger(logger=on_log)], None),
        "MemoryCache miss + store": Monitor([], MemoryCache()),
        "SQLiteCache miss + store": Monitor([], SQLiteCache(tmp / "alone.db")),
    }
    contenders = {
        name: watched(m, deterministic=m.cache is not None) for name, m in monitors.items()
    }
    medians = interleaved(contenders, rounds=rounds, calls=calls)
    _report("the monitoring around one call, alone (no HTTP)", medians)
    return medians


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, calls = (5, 20) if args.quick else (21, 30)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        bench_live(path, rounds, calls)
        # Short rounds, many of them: the median shrugs off a busy machine's spikes.
        bench_in_process(path, rounds * 2, calls * 2)
        bench_hits(path, rounds * 2, calls * 2)
        bench_monitor_alone(path, rounds * 3, calls * 10)


if __name__ == "__main__":
    main()
