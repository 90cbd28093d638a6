"""A/B variants, measured (issue #17): the overhead a variant choice adds to a call.

Not a test, numbers for the notes. Every call goes through ``SpacesClient.complete`` to an
``httpx.MockTransport`` (no socket, the same answer every time), so what is left is the client's
own work per call; the difference between the rows is what routing by variant costs.

    python benchmarks/variants.py [--calls 5000] [--runs 5]

Rows: a tier without variants (off); a tier of two variants, a random pick (no key); the same
with ``ab_key`` (a SHA-256 of tier and key per call); and the pure choice, ``Split.pick``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from langchain_hf_spaces import SpaceConfig, SpacesClient, SpacesSettings  # noqa: E402
from langchain_hf_spaces._ab import Split  # noqa: E402


def handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"generated_text": "ok"})


def per_call_us(fn: Callable[[int], object], calls: int) -> float:
    """The mean microseconds per call of ``fn(i)`` over ``calls`` calls."""
    start = time.perf_counter()
    for i in range(calls):
        fn(i)
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    settings = SpacesSettings(
        tiers={
            "base": SpaceConfig(url="https://acme-a.hf.space", protocol="tgi"),
            "split": SpaceConfig(
                protocol="tgi",
                variants=[
                    {"url": "https://acme-a.hf.space", "weight": 90},
                    {"url": "https://acme-b.hf.space", "weight": 10},
                ],
            ),
        }
    )
    spaces = SpacesClient(
        settings, http_client=httpx.Client(transport=httpx.MockTransport(handler))
    )
    split = Split("split", [("a", 90.0, "A"), ("b", 10.0, "B")])
    rows = {
        "no variants (off)": lambda i: spaces.complete("hi", "base"),
        "2 variants, random pick": lambda i: spaces.complete("hi", "split"),
        "2 variants, ab_key": lambda i: spaces.complete("hi", "split", ab_key=f"user-{i}"),
        "Split.pick(key) alone": lambda i: split.pick(f"user-{i}"),
    }
    for fn in rows.values():  # warm up: protocols set up, connections made
        fn(0)
    # The rows take turns, run after run, so a busy machine slows them alike.
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(args.runs):
        for name, fn in rows.items():
            times[name].append(per_call_us(fn, args.calls))
    print(f"{'':<26} us/call (median of {args.runs} runs of {args.calls} calls)")
    for name, samples in times.items():
        print(f"{name:<26} {statistics.median(samples):8.1f}")
    spaces.close()


if __name__ == "__main__":
    main()
