"""``hf-spaces stats``: print the statistics a ``hf-spaces batch`` run recorded.

``batch`` writes its client's :meth:`SpacesClient.stats` beside its output, as
``<output>.stats.json``; ``hf-spaces stats OUTPUT`` prints them as a table (``--json``: as JSON).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from langchain_hf_spaces._stats import StatsSnapshot
from langchain_hf_spaces.cli._console import EXIT_OK, Console, UsageError

__all__ = ["cmd_stats", "stats_path", "write_stats"]

SUFFIX = ".stats.json"


def stats_path(output: Path) -> Path:
    """Where the stats of a batch writing ``output`` go."""
    return output.with_name(output.name + SUFFIX)


def write_stats(output: Path, snapshot: StatsSnapshot) -> Path:
    path = stats_path(output)
    path.write_text(json.dumps(snapshot.as_dict(), indent=2) + "\n", encoding="utf-8")
    return path


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
        console.print(json.dumps(snapshot.as_dict(), indent=2))
    else:
        console.print(snapshot.table())
    return EXIT_OK
