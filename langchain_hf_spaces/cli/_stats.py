"""``hf-spaces stats``: print the statistics a ``hf-spaces batch`` run recorded.

``batch`` writes its client's :meth:`SpacesClient.stats` beside its output, as
``<output>.stats.json``, with the batch's own figures (goodput, the concurrency limit, queue
waits, overload retries); ``hf-spaces stats OUTPUT`` prints them as a table (``--json``: as JSON).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langchain_hf_spaces._stats import StatsSnapshot
from langchain_hf_spaces.cli._console import EXIT_OK, Console, UsageError

__all__ = ["cmd_stats", "stats_path", "write_stats"]

SUFFIX = ".stats.json"


def stats_path(output: Path) -> Path:
    """Where the stats of a batch writing ``output`` go."""
    return output.with_name(output.name + SUFFIX)


def write_stats(
    output: Path, snapshot: StatsSnapshot, batch: Mapping[str, Any] | None = None
) -> Path:
    """Write the client's stats beside ``output``, with the batch's own figures (goodput, the
    concurrency limit at the end, queue waits, overload retries) under ``"batch"``."""
    path = stats_path(output)
    data = snapshot.as_dict()
    if batch is not None:
        data["batch"] = dict(batch)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def batch_line(batch: Any) -> str | None:
    """``batch: 40 answered, 0 failed in 2.5 s (16.0 answers/s), limit 4 at the end, ...``."""
    if not isinstance(batch, Mapping):
        return None
    try:
        return (
            f"batch: {int(batch['answered'])} answered, {int(batch['failed'])} failed in "
            f"{float(batch['seconds']):.1f} s ({float(batch['goodput']):.1f} answers/s), "
            f"limit {int(batch['limit'])} at the end, {int(batch['queue_waits'])} queue waits, "
            f"{int(batch['overload_retries'])} overload retries"
        )
    except (KeyError, TypeError, ValueError):
        return None


def cmd_stats(args: argparse.Namespace, console: Console) -> int:
    """Print the stats of a batch run (see ``hf-spaces stats --help``)."""
    given = Path(args.output)
    path = given if given.name.endswith(SUFFIX) else stats_path(given)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        snapshot = StatsSnapshot.from_dict(data)
    except OSError as exc:
        raise UsageError(
            f"cannot read {str(path)!r}: {exc.strerror or exc}.",
            "Pass the output file of a `hf-spaces batch` run (its stats are written beside it "
            f"as <output>{SUFFIX}).",
        ) from None
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{str(path)!r} is not a stats file: {exc}.") from None
    if args.json:
        shown = snapshot.as_dict()
        if isinstance(data, Mapping) and isinstance(data.get("batch"), Mapping):
            shown["batch"] = data["batch"]
        console.print(json.dumps(shown, indent=2))
    else:
        console.print(snapshot.table())
        line = batch_line(data.get("batch") if isinstance(data, Mapping) else None)
        if line is not None:
            console.print(line)
    return EXIT_OK
