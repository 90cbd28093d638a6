"""``hf-spaces batch``: answer one prompt per line, concurrently, into JSONL; resumable."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Awaitable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from langchain_hf_spaces._batch import Batch, BatchStats
from langchain_hf_spaces._cache import SQLiteCache
from langchain_hf_spaces.cli._console import (
    EXIT_FAILED,
    EXIT_OK,
    Console,
    ProgressBar,
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
from langchain_hf_spaces.cli._stats import write_stats
from langchain_hf_spaces.client import SpaceAnswer, SpacesClient
from langchain_hf_spaces.errors import HFSpacesError

__all__ = ["cmd_batch"]

FIXED_CONCURRENCY = 4
"""What ``--fixed`` pins the concurrency at without ``--concurrency``."""


def _load_previous(path: Path, prompts: Mapping[int, str]) -> tuple[dict[int, dict[str, Any]], int]:
    """Successful records of an earlier run that still match the input; and how many changed."""
    done: dict[int, dict[str, Any]] = {}
    changed = 0
    if not path.exists():
        return done, changed
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(raw)
        except ValueError:
            continue  # a line cut short when the previous run stopped
        if not isinstance(record, dict) or record.get("error") is not None:
            continue
        line = record.get("line")
        if not isinstance(line, int) or line not in prompts:
            continue
        if record.get("prompt") != prompts[line]:
            changed += 1
            continue
        done[line] = record
    return done, changed


def _write_records(path: Path, records: Mapping[int, dict[str, Any]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for line in sorted(records):
            fh.write(json.dumps(records[line], ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def _default_output(path: Path) -> Path:
    return path.with_name(path.stem + ".results.jsonl")


def _resume(
    output: Path, prompts: Mapping[int, str], *, restart: bool, console: Console
) -> tuple[dict[int, dict[str, Any]], list[tuple[int, str]]]:
    """The records kept from an earlier run (rewritten to ``output``) and the prompts to do."""
    done, changed = ({}, 0) if restart else _load_previous(output, prompts)
    pending = [(line, p) for line, p in prompts.items() if line not in done]
    records: dict[int, dict[str, Any]] = dict(done)
    if done:
        console.note(
            f"Resuming: {len(done)} of {len(prompts)} prompt(s) already answered in {output}"
            + (f"; {changed} changed since and redone" if changed else "")
            + "."
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    _write_records(output, records)
    return records, pending


def cmd_batch(args: argparse.Namespace, console: Console) -> int:
    """Answer every line of the file (see ``hf-spaces batch --help``)."""
    source = Path(args.file)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {str(source)!r}: {exc.strerror or exc}.") from None
    if args.concurrency is not None and args.concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, got {args.concurrency}.")
    prompts = {i: ln.strip() for i, ln in enumerate(text.splitlines(), 1) if ln.strip()}
    if not prompts:
        raise UsageError(f"{source} has no prompts (one prompt per line).")
    output = Path(args.output) if args.output else _default_output(source)
    if output.resolve() == source.resolve():
        raise UsageError("--output must not be the input file.")
    context = parse_context(args.context)
    params = generation_parameters(args)
    settings = load_settings(args)
    cache = _open_cache(args.cache, every_call=args.cache_all)
    with (
        wait_progress(console) as progress,
        SpacesClient(settings, on_wait=progress, cache=cache) as spaces,
    ):
        # An unknown tier, disabled settings or a bad parameter: exit 2 before anything is
        # sent or written.
        check_parameters(spaces.space(args.tier), params)
        records, pending = _resume(output, prompts, restart=args.restart, console=console)
        bar = ProgressBar(console, len(pending), enabled=not args.no_progress)
        with output.open("a", encoding="utf-8") as sink:
            try:
                figures = asyncio.run(
                    _run_batch(spaces, pending, args, context, params, records, sink, bar)
                )
            finally:
                bar.close()
                sink.flush()
        _write_records(output, records)
        stats = write_stats(output, spaces.stats(), figures.as_dict())
    if cache is not None:
        cache.close()
    console.note(f"Stats in {stats} (`hf-spaces stats {output}` prints them).")
    failed = sum(1 for r in records.values() if r.get("error") is not None)
    console.note(
        f"Wrote {len(records)} result(s) to {output}"
        + (f"; {failed} failed (run the same command again to retry them)" if failed else "")
        + "."
    )
    return EXIT_FAILED if failed else EXIT_OK


def _open_cache(path: str | None, *, every_call: bool) -> SQLiteCache | None:
    """``--cache PATH``: the SQLite response cache, opened now so a bad path is a usage error."""
    if path is None:
        if every_call:
            raise UsageError("--cache-all needs --cache PATH.")
        return None
    cache = SQLiteCache(path, deterministic_only=not every_call)
    try:
        len(cache)
    except Exception as exc:  # sqlite3.Error, OSError: not a database, a folder, no access
        raise UsageError(f"--cache {path!r} cannot be used: {exc}.") from None
    return cache


async def _run_batch(
    spaces: SpacesClient,
    pending: Sequence[tuple[int, str]],
    args: argparse.Namespace,
    context: dict[str, Any] | None,
    params: dict[str, Any],
    records: dict[int, dict[str, Any]],
    sink: TextIO,
    bar: ProgressBar,
) -> BatchStats:
    # Through the Space's adaptive concurrency limit (--concurrency is its cap; --fixed pins
    # it): overload answers are retried, not written as failures.
    fixed = bool(getattr(args, "fixed", False))
    cap = args.concurrency if args.concurrency is not None or not fixed else FIXED_CONCURRENCY
    batch = Batch(
        spaces._batch_space(args.tier), max_concurrency=cap, adaptive=not fixed, size=len(pending)
    )
    bar.detail = batch.stats.line

    def ask(k: int) -> Awaitable[SpaceAnswer]:
        return spaces.acomplete(pending[k][1], args.tier, context, **params)

    def done(k: int, outcome: SpaceAnswer | HFSpacesError) -> None:
        line, prompt = pending[k]
        record: dict[str, Any] = {"line": line, "prompt": prompt}
        if isinstance(outcome, HFSpacesError):
            record["error"] = {
                "type": type(outcome).__name__,
                "message": error_line(outcome),
                "hint": outcome.hint or None,
            }
        else:
            record["text"] = outcome.text
            record["metadata"] = outcome.metadata
            record["error"] = None
        records[line] = record
        sink.write(json.dumps(record, ensure_ascii=False) + "\n")
        sink.flush()
        bar.advance(record["error"] is not None)

    await batch.amap(len(pending), ask, return_exceptions=True, on_done=done)
    await spaces.aclose()
    return batch.stats
