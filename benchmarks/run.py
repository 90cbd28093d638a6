"""``make bench``: langchain-hf-spaces against raw httpx and the peers, on the same loopback
servers.

Every server runs in its own process (``benchmarks/serve.py``) so it does not share the
benchmarked interpreter's GIL. Per-call timings are medians over interleaved rounds: in each
round every contender makes the same number of calls, in a rotated order, so drift and noise
from the machine hit all of them alike. Ratios are ours over the baseline (lower is better).

    python benchmarks/run.py [--quick] [--only SECTION ...] [--write docs/benchmarks.md]

Sections: percall, tgi, gradio, ttft, batch, wake, import, load, throughput
(``benchmarks/throughput.py``, its own table), features (the per-feature overhead scripts:
``overhead.py``, ``telemetry_overhead.py``, ``variants.py``, ``gateway.py``, their output
kept). Nothing here is a pass/fail test; the targets are printed beside the measured ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _proc import server  # noqa: E402

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

PROMPT = "Write one sentence about tea."


@dataclass
class Row:
    section: str
    what: str
    ours: float
    baseline: float
    unit: str
    target: str
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else float("nan")


ROWS: list[Row] = []
EXTRA: list[str] = []
"""Sections with their own table (Markdown), printed and written after the main one."""


def interleaved(
    contenders: dict[str, Callable[[], Any]], *, rounds: int, calls: int, warmup: int = 20
) -> dict[str, float]:
    """Median seconds per call of each contender over interleaved, rotated rounds."""
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    names = list(contenders)
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            fn = contenders[name]
            gc.collect()
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            samples[name].append((time.perf_counter() - start) / calls)
    return {n: statistics.median(v) for n, v in samples.items()}


def record(
    section: str, what: str, ours: float, base: float, unit: str, target: str, note: str = ""
) -> None:
    row = Row(section, what, ours, base, unit, target, note)
    ROWS.append(row)
    print(
        f"  {what:<58} ours {ours:9.3f} {unit:<3} base {base:9.3f} {unit:<3} "
        f"ratio {row.ratio:6.3f}  (target {target}) {note}",
        flush=True,
    )


# ------------------------------------------------------------------------------------ sections
def bench_percall(q: bool) -> None:
    import httpx

    from langchain_hf_spaces import HuggingFaceSpaceLLM, SpaceConfig, SpacesClient, SpacesSettings
    from llama_index_hf_spaces import HuggingFaceSpaceLLM as LlamaLLM

    with server() as srv:
        url = srv.url
        raw = httpx.Client()
        body = {"inputs": PROMPT, "parameters": {"max_new_tokens": 8}}
        spaces = SpacesClient(SpacesSettings(tiers={"base": SpaceConfig(url=url)}))
        llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=url), max_new_tokens=8)
        lli = LlamaLLM(space=SpaceConfig(url=url), max_new_tokens=8)
        med = interleaved(
            {
                "raw": lambda: raw.post(url + "/api/generate", json=body).json()["generated_text"],
                "client": lambda: spaces.generate(PROMPT, max_new_tokens=8),
                "llm": lambda: llm.invoke(PROMPT),
                "llama": lambda: lli.complete(PROMPT).text,
            },
            rounds=8 if q else 30,
            calls=20 if q else 40,
        )
        ms = 1e3
        record(
            "percall",
            "SpacesClient.generate vs raw httpx post",
            med["client"] * ms,
            med["raw"] * ms,
            "ms",
            "<= 1.05",
        )
        record(
            "percall",
            "HuggingFaceSpaceLLM.invoke vs raw httpx post",
            med["llm"] * ms,
            med["raw"] * ms,
            "ms",
            "<= 1.20",
        )
        record(
            "percall",
            "LlamaIndex HuggingFaceSpaceLLM.complete vs raw httpx post",
            med["llama"] * ms,
            med["raw"] * ms,
            "ms",
            "<= 1.20",
        )


def bench_tgi(q: bool) -> None:
    from langchain_huggingface import HuggingFaceEndpoint
    from llama_index.llms.huggingface_api import HuggingFaceInferenceAPI

    from langchain_hf_spaces import HuggingFaceSpaceLLM, SpaceConfig
    from llama_index_hf_spaces import HuggingFaceSpaceLLM as LlamaLLM

    with server() as srv:
        url = srv.url
        ours = HuggingFaceSpaceLLM(space=SpaceConfig(url=url, protocol="tgi"), max_new_tokens=8)
        peer = HuggingFaceEndpoint(
            endpoint_url=url + "/generate", max_new_tokens=8, task="text-generation"
        )
        lli = LlamaLLM(space=SpaceConfig(url=url, protocol="tgi"), max_new_tokens=8)
        lpeer = HuggingFaceInferenceAPI(
            model_name=url + "/generate", task="text-generation", num_output=8
        )
        med = interleaved(
            {
                "ours": lambda: ours.invoke(PROMPT),
                "peer": lambda: peer.invoke(PROMPT),
                "lours": lambda: lli.complete(PROMPT).text,
                "lpeer": lambda: lpeer.complete(PROMPT).text,
            },
            rounds=6 if q else 20,
            calls=10 if q else 25,
        )
        record(
            "tgi",
            "HuggingFaceSpaceLLM.invoke vs HuggingFaceEndpoint.invoke (TGI)",
            med["ours"] * 1e3,
            med["peer"] * 1e3,
            "ms",
            "<= 0.8",
        )
        record(
            "tgi",
            "LlamaIndex ours.complete vs HuggingFaceInferenceAPI.complete (TGI)",
            med["lours"] * 1e3,
            med["lpeer"] * 1e3,
            "ms",
            "-",
        )


def bench_gradio(q: bool) -> None:
    import httpx
    from gradio_client import Client

    from langchain_hf_spaces import SpaceClient, SpaceConfig

    with server("--gradio") as srv:
        url = srv.url
        ours = SpaceClient(SpaceConfig(url=url, protocol="gradio", api_name="/predict"))
        peer = Client(url, verbose=False)
        raw = httpx.Client()
        config = raw.get(url + "/config").json()
        fn_index = next(
            d.get("id", i)
            for i, d in enumerate(config["dependencies"])
            if d["api_name"] == "predict"
        )
        counter = iter(range(10**9))

        def raw_call() -> str:
            event = raw.post(
                url + "/gradio_api/call/predict", json={"data": [PROMPT, 8, 0.7]}
            ).json()
            text = raw.get(f"{url}/gradio_api/call/predict/{event['event_id']}").text
            return text

        def raw_queue() -> str:
            session = f"bench{next(counter)}"
            body = {"data": [PROMPT, 8, 0.7], "fn_index": fn_index, "session_hash": session}
            raw.post(url + "/gradio_api/queue/join", json=body).raise_for_status()
            params = {"session_hash": session}
            return raw.get(url + "/gradio_api/queue/data", params=params).text

        med = interleaved(
            {
                "ours": lambda: ours.generate(PROMPT, max_new_tokens=8),
                "peer": lambda: peer.predict(PROMPT, 8, 0.7, api_name="/predict"),
                "raw": raw_call,
                "queue": raw_queue,
            },
            rounds=5 if q else 15,
            calls=5 if q else 10,
            warmup=5,
        )
        record(
            "gradio",
            "SpaceClient(gradio).generate vs gradio_client predict",
            med["ours"] * 1e3,
            med["peer"] * 1e3,
            "ms",
            "<= 0.25",
        )
        record(
            "gradio",
            "SpaceClient(gradio).generate (queue) vs raw httpx queue join+data",
            med["ours"] * 1e3,
            med["queue"] * 1e3,
            "ms",
            "-",
        )
        record(
            "gradio",
            "raw httpx: queue join+data vs /call/ + its SSE (same app)",
            med["queue"] * 1e3,
            med["raw"] * 1e3,
            "ms",
            "-",
            "the queue protocol is what carries gr.Error messages on 4.x/5.x",
        )


def bench_ttft(q: bool) -> None:
    import httpx

    from langchain_hf_spaces import SpaceClient, SpaceConfig

    with server() as srv:
        url = srv.url
        ours = SpaceClient(SpaceConfig(url=url, protocol="tgi"))
        raw = httpx.Client()
        body = {"inputs": PROMPT, "parameters": {"max_new_tokens": 16, "details": True}}
        samples: dict[str, list[float]] = {"ours": [], "raw": []}

        def first_ours() -> float:
            start = time.perf_counter()
            stream = ours.stream(PROMPT, max_new_tokens=16)
            next(iter(stream))
            elapsed = time.perf_counter() - start
            for _ in stream:
                pass
            return elapsed

        def first_raw() -> float:
            start = time.perf_counter()
            with raw.stream("POST", url + "/generate_stream", json=body) as r:
                lines = r.iter_lines()
                for line in lines:
                    if line.startswith("data:"):
                        break
                elapsed = time.perf_counter() - start
                for _ in lines:
                    pass
            return elapsed

        for _ in range(10):
            first_ours(), first_raw()
        for r in range(30 if q else 150):
            pair = [("ours", first_ours), ("raw", first_raw)]
            for name, fn in pair if r % 2 else reversed(pair):
                samples[name].append(fn())
        o, b = statistics.median(samples["ours"]), statistics.median(samples["raw"])
        record(
            "ttft",
            "stream() time to first token vs raw httpx SSE (TGI)",
            o * 1e3,
            b * 1e3,
            "ms",
            "within 5 ms",
            f"diff {(o - b) * 1e3:+.2f} ms",
        )


def bench_batch(q: bool) -> None:
    import httpx

    from langchain_hf_spaces import HuggingFaceSpaceLLM, SpaceClient, SpaceConfig

    latency = 0.25
    # The light model server (a raw ASGI app, no limit): the LocalSpace's routing, recording
    # and fault injection cost it ~1 ms of its own CPU per request, 32 of them in a row.
    with server("--unlimited", "--delay", str(latency)) as srv:
        client = SpaceClient(SpaceConfig(url=srv.url))
        llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=srv.url), max_new_tokens=8)
        prompts = [f"{PROMPT} #{i}" for i in range(32)]
        runs = 3 if q else 7

        def timed(fn: Callable[[], Any]) -> tuple[float, float]:
            gc.collect()
            start, cpu = time.perf_counter(), time.process_time()
            fn()
            return time.perf_counter() - start, time.process_time() - cpu

        def wall(fn: Callable[[], Any]) -> tuple[float, float]:
            fn()  # warm the pool: connections are opened once, as in a long-running program
            samples = [timed(fn) for _ in range(runs)]
            return statistics.median(w for w, _ in samples), statistics.median(
                c for _, c in samples
            )

        def awall(make: Callable[[], Any]) -> tuple[float, float]:
            async def go() -> tuple[float, float]:
                await make()
                samples = []
                for _ in range(runs):
                    gc.collect()
                    start, cpu = time.perf_counter(), time.process_time()
                    await make()
                    samples.append((time.perf_counter() - start, time.process_time() - cpu))
                return (
                    statistics.median(w for w, _ in samples),
                    statistics.median(c for _, c in samples),
                )

            return asyncio.run(go())

        raw_sync = httpx.Client(limits=httpx.Limits(max_keepalive_connections=64))
        body = {"inputs": PROMPT, "parameters": {"max_new_tokens": 8}}

        def raw_threads() -> Any:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(32) as pool:
                return list(
                    pool.map(
                        lambda _: raw_sync.post(srv.url + "/api/generate", json=body), range(32)
                    )
                )

        held: dict[int, httpx.AsyncClient] = {}

        async def raw_async() -> Any:
            c = held.setdefault(0, httpx.AsyncClient())  # one client, kept for the loop's life
            return await asyncio.gather(
                *(c.post(srv.url + "/api/generate", json=body) for _ in range(32))
            )

        floor_sync, floor_async = wall(raw_threads), awall(raw_async)
        cases: dict[str, tuple[tuple[float, float] | None, tuple[float, float]]] = {
            "LangChain batch(32) sync": (wall(lambda: llm.batch(prompts)), floor_sync),
            "LangChain abatch(32)": (awall(lambda: llm.abatch(prompts)), floor_async),
            "SpaceClient.abatch(32)": (
                awall(lambda: client.abatch(prompts, max_new_tokens=8))
                if hasattr(client, "abatch")
                else None,
                floor_async,
            ),
            "generate_variations(n=32) sync": (
                wall(lambda: client.generate_variations(PROMPT, 32, seed=1, unique=False)),
                floor_sync,
            ),
            "agenerate_variations(n=32)": (
                awall(lambda: client.agenerate_variations(PROMPT, 32, seed=1, unique=False)),
                floor_async,
            ),
        }
        for what, (ours, floor) in cases.items():
            if ours is None:
                print(f"  {what:<58} n/a (needs #18 limiter)", flush=True)
                continue
            record(
                "batch",
                f"{what} wall vs one call's latency (250 ms)",
                ours[0] * 1e3,
                latency * 1e3,
                "ms",
                "<= 1.3",
                f"raw httpx x32 on the same server: {floor[0] / latency:.2f}x; client CPU "
                f"{ours[1] * 1e3:.0f} ms (raw {floor[1] * 1e3:.0f} ms)",
            )


def bench_wake(q: bool) -> None:
    from langchain_hf_spaces import SpaceClient, SpaceConfig

    sleep = 3.0
    times = []
    with server() as srv:
        client = SpaceClient(SpaceConfig(url=srv.url))
        client.generate(PROMPT)
        for _ in range(2 if q else 5):
            srv.command(f"sleep {sleep}")
            start = time.perf_counter()
            client.generate(PROMPT)
            times.append(time.perf_counter() - start)
    record(
        "wake",
        "sleeping Space (3 s, HTML page): time to first success",
        statistics.median(times),
        sleep,
        "s",
        "<= sleep + 0.5 s",
        f"over by {statistics.median(times) - sleep:+.2f} s",
    )


IMPORT_PYTHON = os.environ.get("BENCH_IMPORT_PYTHON") or sys.executable
"""The interpreter the import section measures: set ``BENCH_IMPORT_PYTHON`` (or
``--import-python``) to a venv with only the runtime dependencies (no gradio, whose ``rich`` and
``click`` make ``import httpx`` load its command-line tool)."""

_IMPORT_STEPS = """
import time
t0 = time.perf_counter()
from langchain_core.language_models import BaseLLM, BaseChatModel
t1 = time.perf_counter()
import langchain_hf_spaces
t2 = time.perf_counter()
from langchain_hf_spaces import HuggingFaceSpaceLLM, ChatHuggingFaceSpace
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t1)
"""


def bench_import(q: bool) -> None:
    # Bytecode as an installed wheel has it: PYTHONDONTWRITEBYTECODE (set on some machines)
    # would make every run compile our sources again, and a first run writes the .pyc files.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    python = IMPORT_PYTHON

    def run(code: str) -> str:
        out = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, check=True, env=env, cwd="/"
        )
        return out.stdout.strip()

    probe = (
        "import importlib.util as u, sys; "
        "print(sys.prefix, *[m for m in ('gradio', 'rich', 'click') if u.find_spec(m)])"
    )
    prefix, *extras = run(probe).split()
    where = f"venv {prefix}" + (
        f" (has {', '.join(extras)})" if extras else " (no gradio/rich/click)"
    )
    print(f"  measured with {where}", flush=True)
    run("import langchain_hf_spaces.llms, langchain_hf_spaces.chat_models")  # write the .pyc

    def import_time(statement: str) -> float:
        code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
        return float(run(code))

    n = 7 if q else 21
    steps = [[float(x) for x in run(_IMPORT_STEPS).split()] for _ in range(n)]
    base, core, classes = (statistics.median(column) for column in zip(*steps, strict=True))
    spread = [f"{min(c) * 1e3:.0f}-{max(c) * 1e3:.0f}" for c in zip(*steps, strict=True)]
    record(
        "import",
        "+ our LangChain classes, after langchain_core's BaseLLM + BaseChatModel",
        base * 1e3 + classes * 1e3,
        base * 1e3,
        "ms",
        "<= +50 ms",
        f"+{classes * 1e3:.0f} ms [{spread[2]}] in the same process, median of {n}; {where}",
    )
    record(
        "import",
        "+ import langchain_hf_spaces (the core), after the same",
        base * 1e3 + core * 1e3,
        base * 1e3,
        "ms",
        "-",
        f"+{core * 1e3:.0f} ms [{spread[1]}]",
    )
    ours, lc = [], []
    for _ in range(n):
        ours.append(import_time("import langchain_hf_spaces"))
        lc.append(import_time("import langchain_core.language_models"))
    o, b = statistics.median(ours), statistics.median(lc)
    record(
        "import",
        "import langchain_hf_spaces vs import langchain_core.language_models (fresh processes)",
        o * 1e3,
        b * 1e3,
        "ms",
        "-",
        f"diff {(o - b) * 1e3:+.0f} ms",
    )


def bench_load(q: bool) -> None:
    import psutil

    from langchain_hf_spaces import HuggingFaceSpaceLLM, SpaceClient, SpaceConfig
    from langchain_hf_spaces._constants import DEFAULT_MAX_CONNECTIONS

    with server() as srv:
        client = SpaceClient(SpaceConfig(url=srv.url, max_retries=0))

        async def burst(n: int) -> list[Any]:
            return await asyncio.gather(
                *(client.agenerate(f"{PROMPT} {i}", max_new_tokens=4) for i in range(n)),
                return_exceptions=True,
            )

        n = 200 if q else 1000
        start = time.perf_counter()
        results = asyncio.run(burst(n))
        wall = time.perf_counter() - start
        errors = sum(isinstance(r, BaseException) for r in results)
        peak = int(srv.command("peak"))
        record(
            "load",
            f"{n} concurrent agenerate: errors (peak server concurrency {peak})",
            errors,
            0,
            "",
            "0 errors",
            f"peak {peak} <= pool {DEFAULT_MAX_CONNECTIONS}; {n / wall:.0f} req/s",
        )

        proc = psutil.Process()
        seq = 2000 if q else 10_000
        for _ in range(500):
            client.generate(PROMPT, max_new_tokens=4)
        gc.collect()
        before = proc.memory_info().rss
        for _ in range(seq):
            client.generate(PROMPT, max_new_tokens=4)
        gc.collect()
        grown = (proc.memory_info().rss - before) / 2**20
        record("load", f"{seq} sequential generate: RSS growth", grown, 5.0, "MB", "<= 5 MB")

        llm = HuggingFaceSpaceLLM(space=SpaceConfig(url=srv.url, max_retries=0), max_new_tokens=4)
        prompts = [f"{PROMPT} {i}" for i in range(n)]
        results = asyncio.run(llm.abatch(prompts, return_exceptions=True))
        errors = sum(isinstance(r, BaseException) for r in results)
        record("load", f"LangChain abatch({n}): errors", errors, 0, "", "0 errors")
        for _ in range(200):
            llm.invoke(PROMPT)
        gc.collect()
        before = proc.memory_info().rss
        for _ in range(seq // 5):
            llm.invoke(PROMPT)
        gc.collect()
        grown = (proc.memory_info().rss - before) / 2**20
        record("load", f"{seq // 5} sequential LLM.invoke: RSS growth", grown, 5.0, "MB", "<= 5 MB")


def bench_throughput(q: bool) -> None:
    import throughput

    EXTRA.append("### Throughput against Spaces with limited capacity\n\n" + throughput.run(q))


# The per-feature overhead benchmarks (#17, #19): each script prints its own medians; `make bench`
# runs them in turn (each starts its servers in their own processes) and keeps what they print.
FEATURE_SCRIPTS: list[tuple[str, list[str], list[str]]] = [
    ("Cache, observers, stats, request log (off vs on)", ["overhead.py"], ["--quick"]),
    ("OpenTelemetry observer (CPU time per call)", ["telemetry_overhead.py", "--clock", "cpu"], []),
    ("A/B variants (choice per call)", ["variants.py"], ["--runs", "3"]),
    ("The OpenAI-compatible gateway (added latency)", ["gateway.py"], ["--rounds", "5"]),
]


def bench_features(q: bool) -> None:
    for title, script, quick_args in FEATURE_SCRIPTS:
        args = [*script[1:], *(quick_args if q else [])]
        shown = " ".join(["python", f"benchmarks/{script[0]}", *args])
        print(f"  {title}: {shown}", flush=True)
        cmd = [sys.executable, str(ROOT / "benchmarks" / script[0]), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=1800)
        out = done.stdout.strip() or done.stderr.strip()[-2000:]
        print(out, flush=True)
        EXTRA.append(f"### {title}\n\n`{shown}`\n\n```text\n{out}\n```")


SECTIONS: dict[str, Callable[[bool], None]] = {
    "percall": bench_percall,
    "tgi": bench_tgi,
    "gradio": bench_gradio,
    "ttft": bench_ttft,
    "batch": bench_batch,
    "wake": bench_wake,
    "import": bench_import,
    "load": bench_load,
    "throughput": bench_throughput,
    "features": bench_features,
}


def table() -> str:
    lines = [
        "| Section | Measurement | Ours | Baseline | Ratio | Target | Note |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for r in ROWS:
        ratio = f"{r.ratio:.3f}" if r.baseline and r.unit in ("ms", "s") else "-"
        lines.append(
            f"| {r.section} | {r.what} | {r.ours:.3f} {r.unit} | {r.baseline:.3f} {r.unit} | "
            f"{ratio} | {r.target} | {r.note} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument(
        "--only", nargs="*", choices=sorted(SECTIONS), help="run only these sections"
    )
    parser.add_argument("--write", type=Path, help="write the table into this Markdown file")
    parser.add_argument(
        "--import-python", help="interpreter for the import section (a venv without gradio)"
    )
    args = parser.parse_args()
    if args.import_python:
        global IMPORT_PYTHON
        IMPORT_PYTHON = args.import_python
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs",
        flush=True,
    )
    for name in args.only or SECTIONS:
        print(f"[{name}]", flush=True)
        try:
            SECTIONS[name](args.quick)
        except ImportError as exc:
            print(f"  skipped: {exc} (install the bench extra)", flush=True)
    print()
    print(table())
    for extra in EXTRA:
        print("\n" + extra)
    if args.write:
        text = args.write.read_text(encoding="utf-8") if args.write.exists() else ""
        start, end = "<!-- bench:start -->", "<!-- bench:end -->"
        stamp = time.strftime("%Y-%m-%d")
        where = f"{platform.machine()}, {os.cpu_count()} CPUs"
        extras = "".join(f"\n{extra}\n" for extra in EXTRA)
        block = f"{start}\nMeasured {stamp} on {where}.\n\n{table()}\n{extras}{end}"
        if start in text and end in text:
            text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
        else:
            text += "\n" + block + "\n"
        args.write.write_text(text, encoding="utf-8")
        print(f"\nwrote {args.write}")


if __name__ == "__main__":
    main()
