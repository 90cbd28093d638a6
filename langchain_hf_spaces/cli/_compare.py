"""``hf-spaces compare``: the same prompts through two or more settings profiles, side by side.

For checking a staging Space before promoting it: every prompt of the file (one a line, as
``hf-spaces batch`` reads them) is answered by each profile in turn, concurrently within a
profile (at most ``--concurrency`` calls at a time), so that one profile's calls do not slow
the other's down. The answers and latencies are printed as a table (``--json``: one JSON
document), then each profile's median and p95 latency and error count.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import shutil
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_hf_spaces._inputs import printable
from langchain_hf_spaces.cli._console import (
    EXIT_FAILED,
    EXIT_OK,
    Console,
    UsageError,
    error_line,
    wait_progress,
)
from langchain_hf_spaces.cli._options import (
    check_parameters,
    generation_parameters,
    load_settings,
    parse_context,
)
from langchain_hf_spaces.client import SpacesClient
from langchain_hf_spaces.errors import HFSpacesError

__all__ = ["Outcome", "cmd_compare", "read_prompts", "summarize"]

_DEFAULT_WIDTH = 100
_MIN_COLUMN = 8


@dataclass
class Outcome:
    """One prompt answered (or not) by one profile."""

    latency: float
    """Seconds the call took, as the caller saw it (waits and retries included)."""
    text: str | None = None
    metadata: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "latency": self.latency,
            "metadata": self.metadata,
            "error": self.error,
        }


def read_prompts(path: Path) -> dict[int, str]:
    """The prompts of ``path`` by line number: every non-empty line, stripped (``batch``'s
    format)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {str(path)!r}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{str(path)!r} is not UTF-8 text: {exc.reason}.") from None
    prompts = {i: ln.strip() for i, ln in enumerate(text.splitlines(), 1) if ln.strip()}
    if not prompts:
        raise UsageError(f"{path} has no prompts (one prompt per line).")
    return prompts


def _percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0-100] of ``values`` (not empty)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(outcomes: Mapping[int, Outcome]) -> dict[str, Any]:
    """Calls, answers, failures, median and p95 latency (seconds) of the answered calls."""
    latencies = [o.latency for o in outcomes.values() if o.ok]
    failed = sum(1 for o in outcomes.values() if not o.ok)
    return {
        "calls": len(outcomes),
        "answered": len(latencies),
        "failed": failed,
        "median_latency": statistics.median(latencies) if latencies else None,
        "p95_latency": _percentile(latencies, 95) if latencies else None,
    }


def _check_profiles(profiles: Sequence[str]) -> None:
    if len(profiles) < 2:
        raise UsageError(
            f"compare needs two or more --profile options, got {len(profiles)}.",
            hint="e.g. hf-spaces compare --profile staging --profile production prompts.txt",
        )
    seen: set[str] = set()
    for name in profiles:
        if name in seen:
            raise UsageError(f"--profile {name} is given twice.")
        seen.add(name)


def cmd_compare(args: argparse.Namespace, console: Console) -> int:
    """Answer every line with each profile (see ``hf-spaces compare --help``)."""
    profiles: list[str] = list(getattr(args, "profiles", None) or [])
    _check_profiles(profiles)
    if args.concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, got {args.concurrency}.")
    if args.width is not None and args.width < 40:
        raise UsageError(f"--width must be at least 40, got {args.width}.")
    prompts = read_prompts(Path(args.file))
    context = parse_context(args.context)
    params = generation_parameters(args)
    # Every profile's settings, tier and parameters are checked before anything is sent: an
    # unknown profile or tier, disabled settings or a bad value is exit code 2.
    settings = [load_settings(args, name) for name in profiles]
    results: dict[str, dict[int, Outcome]] = {}
    with wait_progress(console) as progress, contextlib.ExitStack() as stack:
        clients = [stack.enter_context(SpacesClient(s, on_wait=progress)) for s in settings]
        for client in clients:
            check_parameters(client.space(args.tier), params)
        for name, client in zip(profiles, clients, strict=True):
            console.note(f"Profile {name}: {len(prompts)} prompt(s)...")
            results[name] = asyncio.run(
                _run_profile(client, prompts, args.tier, context, params, args.concurrency)
            )
    summary = {name: summarize(results[name]) for name in profiles}
    failed = any(s["failed"] for s in summary.values())
    if args.json:
        payload = {
            "ok": not failed,
            "profiles": profiles,
            "prompts": [
                {
                    "line": line,
                    "prompt": prompt,
                    "answers": {name: results[name][line].as_json() for name in profiles},
                }
                for line, prompt in prompts.items()
            ],
            "summary": summary,
        }
        console.print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        width = args.width or shutil.get_terminal_size((_DEFAULT_WIDTH, 24)).columns
        for line in render_table(prompts, profiles, results, summary, width=width):
            console.print(printable(line))
    return EXIT_FAILED if failed else EXIT_OK


async def _run_profile(
    spaces: SpacesClient,
    prompts: Mapping[int, str],
    tier: str | None,
    context: dict[str, Any] | None,
    params: dict[str, Any],
    concurrency: int,
) -> dict[int, Outcome]:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(prompt: str) -> Outcome:
        async with semaphore:
            started = time.perf_counter()
            try:
                answer = await spaces.acomplete(prompt, tier, context, **params)
            except HFSpacesError as exc:
                return Outcome(
                    latency=time.perf_counter() - started,
                    error={
                        "type": type(exc).__name__,
                        "message": error_line(exc),
                        "hint": exc.hint or None,
                    },
                )
            return Outcome(
                latency=time.perf_counter() - started, text=answer.text, metadata=answer.metadata
            )

    try:
        done = await asyncio.gather(*(one(p) for p in prompts.values()))
    finally:
        await spaces.aclose()  # this event loop's connections
    return dict(zip(prompts, done, strict=True))


# ------------------------------------------------------------------------------- the table
def _cell(text: str, width: int) -> str:
    flat = " ".join(text.split())
    if len(flat) > width:
        flat = flat[: max(0, width - 3)] + "..."
    return flat.ljust(width)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def render_table(
    prompts: Mapping[int, str],
    profiles: Sequence[str],
    results: Mapping[str, Mapping[int, Outcome]],
    summary: Mapping[str, Mapping[str, Any]],
    *,
    width: int = _DEFAULT_WIDTH,
) -> list[str]:
    """The answers side by side (one row a prompt; long text cut to fit ``width``), the
    failures in full, and each profile's latency figures."""
    number = max(1, len(str(max(prompts))))
    latency = max(len("ms"), *(len(_ms(o.latency)) for by in results.values() for o in by.values()))
    gap = "  "
    columns = 1 + len(profiles)  # the prompt, then one answer a profile
    fixed = number + len(profiles) * (len(gap) + latency) + columns * len(gap)
    room = width - fixed
    # The prompt gets one share of the room (no more than it needs), each answer two.
    longest = max(len("prompt"), *(len(" ".join(p.split())) for p in prompts.values()))
    prompt_width = max(_MIN_COLUMN, min(longest, room // (1 + 2 * len(profiles))))
    text_width = max(_MIN_COLUMN, (room - prompt_width) // len(profiles))
    header = "#".rjust(number) + gap + _cell("prompt", prompt_width)
    rule = "-" * number + gap + "-" * prompt_width
    for name in profiles:
        header += gap + _cell(name, text_width) + gap + "ms".rjust(latency)
        rule += gap + "-" * text_width + gap + "-" * latency
    lines = [header.rstrip(), rule]
    failures: list[str] = []
    for line, prompt in prompts.items():
        row = str(line).rjust(number) + gap + _cell(prompt, prompt_width)
        for name in profiles:
            outcome = results[name][line]
            if outcome.error is not None:
                shown = f"ERROR {outcome.error['type']}"
                failures.append(f"  line {line}, {name}: {outcome.error['type']}: ")
                failures[-1] += str(outcome.error["message"])
                if outcome.error.get("hint"):
                    failures.append(f"    hint: {outcome.error['hint']}")
            else:
                shown = outcome.text or ""
            row += gap + _cell(shown, text_width) + gap + _ms(outcome.latency).rjust(latency)
        lines.append(row.rstrip())
    if failures:
        lines += ["", "Failures", *failures]
    label = max(len("profile"), *(len(n) for n in profiles))
    lines += [
        "",
        f"{'profile':<{label}}  {'calls':>5}  {'failed':>6}  {'median':>9}  {'p95':>9}",
    ]
    for name in profiles:
        s = summary[name]
        lines.append(
            f"{name:<{label}}  {s['calls']:>5}  {s['failed']:>6}  "
            f"{_ms(s['median_latency']):>9}  {_ms(s['p95_latency']):>9}"
        )
    return lines
