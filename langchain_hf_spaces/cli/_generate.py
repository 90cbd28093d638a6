"""``hf-spaces generate``: one answer, streamed, structured (``--schema``) or as variations."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from langchain_hf_spaces._inputs import printable
from langchain_hf_spaces.cli._console import EXIT_OK, Console, UsageError, wait_progress
from langchain_hf_spaces.cli._options import generation_parameters, load_settings, parse_context
from langchain_hf_spaces.client import SpaceAnswer, SpacesClient

__all__ = ["cmd_generate"]


def _read_prompt(value: str) -> str:
    if value == "-":
        return sys.stdin.read().rstrip("\r\n")
    return value


def _read_schema(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the schema file {path!r}: {exc.strerror or exc}.") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(
            f"the schema file {path!r} is not JSON: {exc}.",
            hint='Write the schema as JSON, e.g. {"title": "string", "pros": "string[]"}.',
        ) from None


def _dump_structured(value: Any) -> str:
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    return json.dumps(data, indent=2, ensure_ascii=False)


def _numbered(texts: Sequence[str]) -> str:
    width = len(str(len(texts)))
    lines = []
    for i, text in enumerate(texts, 1):
        label = f"{i:>{width}}. "
        body = text.strip().replace("\n", "\n" + " " * len(label))
        lines.append(label + body)
    return "\n".join(lines)


def cmd_generate(args: argparse.Namespace, console: Console) -> int:
    """Print the answer to the prompt (see ``hf-spaces generate --help``)."""
    if args.schema and args.variations is not None:
        raise UsageError("--schema and --variations cannot be combined.")
    if args.stream and (args.schema or args.variations is not None or args.json):
        raise UsageError("--stream prints plain text; drop --schema, --variations or --json.")
    if args.variations is not None and args.variations < 1:
        raise UsageError(f"--variations must be at least 1, got {args.variations}.")
    prompt = _read_prompt(args.prompt)
    context = parse_context(args.context)
    params = generation_parameters(args)
    schema = _read_schema(args.schema) if args.schema else None
    settings = load_settings(args)
    with wait_progress(console) as progress, SpacesClient(settings, on_wait=progress) as spaces:
        if schema is not None:
            result = spaces.generate_structure(
                prompt, schema, tier=args.tier, context=context, **params
            )
            progress.finish()
            console.print(printable(_dump_structured(result)))
            return EXIT_OK
        if args.variations is not None:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                texts = spaces.generate_variations(
                    prompt, args.variations, tier=args.tier, context=context, **params
                )
            progress.finish()
            for warning in caught:
                console.note(f"warning: {warning.message}")
            if args.json:
                console.print(printable(json.dumps(texts, indent=2, ensure_ascii=False)))
            else:
                console.print(printable(_numbered(texts)))
            return EXIT_OK
        answer: SpaceAnswer | None = None
        if args.stream:
            space = spaces.space(args.tier)
            for chunk in space.stream_chunks(prompt, context=context, **params):
                if chunk.text:
                    progress.finish()
                    console.out.write(printable(chunk.text))
                    console.out.flush()
                if chunk.answer is not None:
                    answer = chunk.answer
            console.out.write("\n")
        else:
            answer = spaces.complete(prompt, args.tier, context, **params)
            progress.finish()
            if args.json:
                dumped = json.dumps(
                    {"text": answer.text, "metadata": answer.metadata},
                    indent=2,
                    ensure_ascii=False,
                )
                console.print(printable(dumped))
            else:
                console.print(printable(answer.text))
        if args.verbose and answer is not None:
            meta = answer.metadata
            console.note(
                f"[{meta['tier']}] {meta['url']} protocol={meta['protocol']} "
                f"latency={answer.latency * 1000:.0f} ms attempts={answer.attempts}"
            )
    return EXIT_OK
