"""Hostile transports, measured (issue #14 items 1-3): not a test, numbers for the notes.

Each measurement runs in a fresh client process (``--one NAME``), against servers from
``tests/support/hostile.py`` started in a process of their own (so they share no GIL with the
client); the parent prints the median of ``--runs`` runs.

    python benchmarks/hostile.py [--runs 5] [--only bomb trickle tiers]

* bomb: peak memory (tracemalloc, and the growth of the process's max RSS) of one call whose
  answer is a ``Content-Encoding: gzip, br`` bomb of 4 GiB decoded (a few hundred bytes sent).
* trickle: seconds until a call with ``timeout=2`` gives up on a Space sending one byte every
  0.5 s (of its headers, or of its body), sync and async.
* tiers: the median latency of tier B's calls while 100 calls hang on tier A, vs. tier A idle.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from langchain_hf_spaces import SpaceClient, SpaceConfig, SpacesClient, SpacesSettings  # noqa: E402
from tests.support.hostile import (  # noqa: E402
    HostileServer,
    SlowServer,
    answer,
    bomb,
    hang,
    response,
    trickle,
)

BOMB_BYTES = 4 << 30
BOMB_FILE = Path(tempfile.gettempdir()) / "hf-spaces-bomb-4g.gz.br"
TRICKLED = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n"
OK = response("200 OK", b'{"generated_text": "from B"}', content_type="application/json")
FAST: dict[str, Any] = {"max_retries": 0}


def _serve(kind: str, conn: Any) -> None:
    """The server process: start the servers ``kind`` needs, send their URLs, wait."""
    if kind == "bomb":
        body = BOMB_FILE.read_bytes()
        reply = response(
            "200 OK", body, content_type="application/json", content_encoding="gzip, br"
        )
        servers: list[Any] = [HostileServer([reply])]
    elif kind == "trickle":
        servers = [
            SlowServer(trickle(TRICKLED, every=0.5, with_head=True)),
            SlowServer(trickle(TRICKLED, every=0.5, with_head=False)),
        ]
    else:
        servers = [SlowServer(hang), SlowServer(answer(OK))]
    for s in servers:
        s.__enter__()
    conn.send([s.url for s in servers])
    conn.recv()  # until the client is done
    for s in servers:
        s._stop.set()


def _servers(kind: str) -> tuple[list[str], Any, Any]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(kind, child), daemon=True)
    proc.start()
    return parent.recv(), parent, proc


def one_bomb() -> dict[str, float]:
    [url], conn, proc = _servers("bomb")
    client = SpaceClient(SpaceConfig(url=url, **FAST))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started = time.perf_counter()
    try:
        client.generate("Hello")
    except Exception as exc:
        error = type(exc).__name__
    else:
        error = "none"
    took = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    conn.send("done")
    proc.join(5)
    return {
        "traced_peak_mib": peak / 2**20,
        "rss_growth_mib": (after - before) / 1024,
        "seconds": took,
        "bomb_bytes": BOMB_FILE.stat().st_size,
        "typed": float(error == "SpaceResponseError"),
    }


def one_trickle() -> dict[str, float]:
    urls, conn, proc = _servers("trickle")
    out: dict[str, float] = {}
    for name, url in zip(("headers", "body"), urls, strict=True):
        client = SpaceClient(SpaceConfig(url=url, total_timeout=2, **FAST))
        started = time.perf_counter()
        with contextlib.suppress(Exception):  # SpaceTimeoutError expected
            client.generate("Hello")
        out[f"sync_{name}_s"] = time.perf_counter() - started
        started = time.perf_counter()
        with contextlib.suppress(Exception):
            asyncio.run(client.agenerate("Hello"))
        out[f"async_{name}_s"] = time.perf_counter() - started
    conn.send("done")
    proc.join(5)
    return out


def one_tiers() -> dict[str, float]:
    (stuck, fine), conn, proc = _servers("tiers")
    tiers = {"base": {"url": fine, **FAST}, "company": {"url": stuck, **FAST, "total_timeout": 120}}
    spaces = SpacesClient(SpacesSettings(tiers=tiers))

    def latencies(n: int = 40) -> list[float]:
        out = []
        for _ in range(n):
            t = time.perf_counter()
            spaces.generate("Hello", tier="base")
            out.append(time.perf_counter() - t)
        return out

    spaces.generate("warm", tier="base")
    idle = statistics.median(latencies())
    hung = [threading.Thread(target=_quiet, args=(spaces,), daemon=True) for _ in range(100)]
    for t in hung:
        t.start()
    time.sleep(1.0)  # let the 100 calls reach tier A and hang there
    started = time.perf_counter()
    try:
        spaces.space("base").generate("first", timeout=30)
        first = time.perf_counter() - started
        stuck_median = statistics.median(latencies())
    except Exception:
        first, stuck_median = float("inf"), float("inf")
    conn.send("done")
    proc.join(5)
    return {
        "tier_b_idle_ms": idle * 1000,
        "tier_b_with_100_stuck_ms": stuck_median * 1000,
        "first_call_while_stuck_ms": first * 1000,
    }


def _quiet(spaces: SpacesClient) -> None:
    with contextlib.suppress(Exception):  # ends when the server process goes away
        spaces.generate("x", tier="company")


ONE = {"bomb": one_bomb, "trickle": one_trickle, "tiers": one_tiers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=list(ONE))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(ONE[args.one]()))
        return
    if "bomb" in args.only and not BOMB_FILE.exists():
        print(f"building a {BOMB_BYTES >> 30} GiB gzip, br bomb in {BOMB_FILE} ...", flush=True)
        BOMB_FILE.write_bytes(bomb("gzip, br", BOMB_BYTES))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for name in args.only:
        runs = []
        for _ in range(args.runs):
            out = subprocess.run(
                [sys.executable, __file__, "--one", name],
                capture_output=True,
                text=True,
                env=env,
                timeout=600,
                check=True,
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"{name} (median of {len(runs)} runs):")
        for key in runs[0]:
            values = [r[key] for r in runs]
            print(f"  {key:28s} {statistics.median(values):10.2f}   runs: {values}")


if __name__ == "__main__":
    main()
