"""Throughput against Spaces with limited capacity (issue #18).

    python benchmarks/throughput.py [--quick] [--prompts N] [--runs R] [--only gradio tgi unlimited]

Three servers, each in its own process (``benchmarks/serve.py``):

- ``gradio``: a real gradio 6 app, ``concurrency_limit=4``, queue ``max_size=8``, 200 ms a call
  (past the queue's size gradio refuses with HTTP 503 "Queue is full");
- ``tgi``: a TGI-like server, ``max_concurrent_requests=16``, 100 ms a call, HTTP 429
  ``{"error": "Model is overloaded", "error_type": "overloaded"}`` past it (as TGI's router);
- ``unlimited``: no limit, 250 ms a call; its "capacity" is a batch's default
  ``max_concurrency`` (64), the most one batch has in flight unless told otherwise.

For each server and contender, N prompts are sent as one batch and timed. The physical limit is
``prompts / capacity`` (rounded up) ``x latency``: the server busy all the time, nothing
wasted. Columns: wall
time over the limit for the prompts answered (1.0 is perfect; the goal is <= 1.11, i.e. >= 0.9
of its rate; a contender that loses prompts is timed on the ones it got answered), prompts
lost (answered with an error: must be 0), and the overload answers (503 queue full, 429
overloaded) the server counted on its side. Runs are interleaved (every contender once per
round, in a rotated order) and reported as median [min-max] over the rounds. Each run uses a
new client after one warm-up call; the adaptive limit is kept per Space origin for the whole
process, so runs after the first start from what the earlier ones learnt (as in a long-running
program).

Contenders: ``adaptive`` (``SpaceClient.abatch``, the adaptive limit, the default),
``fixed N`` (``abatch(adaptive=False, max_concurrency=N)``; before ``abatch`` exists, an
``asyncio.Semaphore(N)`` over ``acomplete``), and ``gradio_client`` (``Client.submit`` for every
prompt, then ``.result()`` of each) on the gradio app. ``fixed 1`` is sent a tenth of the
prompts (its wall time is 4-100x the limit; the ratio does not depend on the count).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _proc import Server, server  # noqa: E402

NEEDS_LIMITER = "n/a (needs #18 limiter)"
MAX_NEW_TOKENS = 8


@dataclass(frozen=True)
class Target:
    key: str
    title: str
    serve: tuple[str, ...]
    latency: float
    capacity: int
    config: dict[str, Any]
    gradio: bool = False

    def limit(self, prompts: int) -> float:
        """The physical limit: the server busy all the time, ``capacity`` calls at once."""
        return math.ceil(prompts / self.capacity) * self.latency


BATCH_CAP = 64
"""A batch's default ``max_concurrency``: the most it has in flight unless told otherwise, so
the unlimited server's "capacity" (its physical limit is the client's, not the server's)."""


def targets() -> list[Target]:
    return [
        Target(
            "gradio",
            "gradio 6 app: concurrency_limit=4, max_size=8, 200 ms",
            ("--gradio-capacity", "4", "--max-size", "8", "--delay", "0.2"),
            0.2,
            4,
            {"protocol": "gradio", "api_name": "/predict"},
            gradio=True,
        ),
        Target(
            "tgi",
            "TGI-like: max_concurrent_requests=16 (429 past it), 100 ms",
            ("--tgi-capacity", "16", "--delay", "0.1"),
            0.1,
            16,
            {"protocol": "tgi"},
        ),
        Target(
            "unlimited",
            f"unlimited, 250 ms (capacity: a batch's default cap, {BATCH_CAP} in flight)",
            ("--unlimited", "--delay", "0.25"),
            0.25,
            BATCH_CAP,
            {"protocol": "generate"},
        ),
    ]


CONTENDERS: dict[str, int | None] = {
    "adaptive": None,
    "fixed 1": 1,
    "fixed 4": 4,
    "fixed 16": 16,
    "fixed 64": 64,
    "gradio_client": None,
}


@dataclass
class Outcome:
    wall: float
    prompts: int
    lost: int
    overloads: int


@dataclass
class Results:
    runs: dict[tuple[str, str], list[Outcome]] = field(default_factory=dict)
    missing: dict[tuple[str, str], str] = field(default_factory=dict)


def _prompts(n: int, tag: str) -> list[str]:
    return [f"Write one sentence about tea, {tag} #{i}." for i in range(n)]


def _stats(srv: Server) -> tuple[int, int, int]:
    overloads, served, peak = (int(x) for x in srv.command("stats").split())
    return overloads, served, peak


def _ours(target: Target, srv: Server, prompts: list[str], fixed: int | None) -> Outcome | None:
    from langchain_hf_spaces import SpaceClient, SpaceConfig

    async def go() -> Outcome | None:
        client = SpaceClient(SpaceConfig(url=srv.url, **target.config))
        try:
            batch = getattr(client, "abatch", None)
            if batch is None and fixed is None:
                return None
            await client.acomplete("warm up", max_new_tokens=MAX_NEW_TOKENS)
            srv.command("reset")
            gc.collect()
            start = time.perf_counter()
            if batch is not None:
                options: dict[str, Any] = (
                    {} if fixed is None else {"adaptive": False, "max_concurrency": fixed}
                )
                results = await batch(
                    prompts, return_exceptions=True, max_new_tokens=MAX_NEW_TOKENS, **options
                )
            else:
                assert fixed is not None
                gate = asyncio.Semaphore(fixed)

                async def one(prompt: str) -> Any:
                    async with gate:
                        return await client.acomplete(prompt, max_new_tokens=MAX_NEW_TOKENS)

                results = await asyncio.gather(*(one(p) for p in prompts), return_exceptions=True)
            wall = time.perf_counter() - start
        finally:
            await client.aclose()
        lost = sum(isinstance(r, BaseException) for r in results) + len(prompts) - len(results)
        return Outcome(wall, len(prompts), lost, _stats(srv)[0])

    return asyncio.run(go())


def _gradio_client(target: Target, srv: Server, prompts: list[str]) -> Outcome:
    from gradio_client import Client

    client = Client(srv.url, verbose=False)
    try:
        client.predict("warm up", MAX_NEW_TOKENS, 0.7, api_name="/predict")
        srv.command("reset")
        gc.collect()
        start = time.perf_counter()
        jobs = [client.submit(p, MAX_NEW_TOKENS, 0.7, api_name="/predict") for p in prompts]
        lost = 0
        for job in jobs:
            try:
                job.result()
            except Exception:
                lost += 1
        wall = time.perf_counter() - start
    finally:
        client.close()
    return Outcome(wall, len(prompts), lost, _stats(srv)[0])


def measure(
    chosen: list[Target], prompts: int, runs: int, log: Callable[[str], None] = print
) -> Results:
    """Every contender on every chosen server, ``runs`` interleaved rounds."""
    out = Results()
    for target in chosen:
        names = [n for n in CONTENDERS if n != "gradio_client" or target.gradio]
        log(f"  {target.title}")
        with server(*target.serve) as srv:
            for r in range(runs):
                order = names[r % len(names) :] + names[: r % len(names)]
                for name in order:
                    key = (target.key, name)
                    if key in out.missing:
                        continue
                    fixed = CONTENDERS[name]
                    n = max(10, prompts // 10) if fixed == 1 else prompts
                    batch = _prompts(n, f"{name} run {r}")
                    if name == "gradio_client":
                        outcome: Outcome | None = _gradio_client(target, srv, batch)
                    else:
                        outcome = _ours(target, srv, batch, fixed)
                    if outcome is None:
                        out.missing[key] = NEEDS_LIMITER
                        log(f"    {name:<14} {NEEDS_LIMITER}")
                        continue
                    out.runs.setdefault(key, []).append(outcome)
                    limit = target.limit(max(1, outcome.prompts - outcome.lost))
                    log(
                        f"    run {r + 1} {name:<14} {outcome.prompts:5d} prompts "
                        f"{outcome.wall:8.2f} s = {outcome.wall / limit:6.2f}x the limit, "
                        f"lost {outcome.lost}, overload answers {outcome.overloads}"
                    )
    return out


def _spread(values: list[float], fmt: str) -> str:
    med = statistics.median(values)
    if len(values) == 1:
        return format(med, fmt)
    return f"{format(med, fmt)} [{format(min(values), fmt)}-{format(max(values), fmt)}]"


def table(chosen: list[Target], results: Results) -> str:
    lines = [
        "| Server | Contender | Prompts | Wall (s) | Wall / limit | Rate / limit's | Lost "
        "| Overload answers |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for target in chosen:
        for name in CONTENDERS:
            key = (target.key, name)
            if key in results.missing:
                lines.append(f"| {target.title} | {name} | | {results.missing[key]} | | | | |")
                continue
            runs = results.runs.get(key)
            if not runs:
                continue
            walls = [o.wall for o in runs]
            ratios = [o.wall / target.limit(max(1, o.prompts - o.lost)) for o in runs]
            lines.append(
                f"| {target.title} | {name} | {runs[0].prompts} | {_spread(walls, '.2f')} "
                f"| {_spread(ratios, '.2f')} "
                f"| {_spread([1 / r for r in ratios], '.2f')} "
                f"| {_spread([float(o.lost) for o in runs], '.0f')} "
                f"| {_spread([float(o.overloads) for o in runs], '.0f')} |"
            )
    return "\n".join(lines)


def run(quick: bool, *, prompts: int | None = None, runs: int = 3, only: Any = None) -> str:
    """The section for ``benchmarks/run.py``: measure, print, return the Markdown table."""
    chosen = [t for t in targets() if not only or t.key in only]
    n = prompts or (100 if quick else 1000)
    print(f"  {n} prompts a batch, {runs} interleaved runs", flush=True)
    results = measure(chosen, n, runs, lambda line: print(line, flush=True))
    text = table(chosen, results)
    print(text, flush=True)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100 prompts a batch")
    parser.add_argument("--prompts", type=int, help="prompts a batch (default 1000)")
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs (default 3)")
    parser.add_argument("--only", nargs="*", choices=["gradio", "tgi", "unlimited"])
    args = parser.parse_args()
    run(args.quick, prompts=args.prompts, runs=args.runs, only=args.only)


if __name__ == "__main__":
    main()
