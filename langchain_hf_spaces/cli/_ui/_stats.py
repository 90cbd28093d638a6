"""The page's "Stats": the calls made from this page (its Test Connection jobs), and the batch
runs recorded beside the settings file (``hf-spaces batch`` writes ``<output>.stats.json``).

Recorded files are read safely: only regular files directly in the settings file's folder (a
symlink leading elsewhere is not followed), at most :data:`MAX_RUNS` of them, newest first, each
at most :data:`MAX_BYTES`; a file that is not a stats file is listed as unreadable, with why in
our words (never its contents), and every value shown is checked to be what the format says.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from langchain_hf_spaces._stats import SpacesStats, StatsSnapshot, TierStats
from langchain_hf_spaces.cli._stats import SUFFIX, batch_line

__all__ = ["MAX_BYTES", "MAX_RUNS", "page_stats", "recorded_runs"]

MAX_RUNS = 10
MAX_BYTES = 1024 * 1024
_NUMBERS = (
    "calls", "abandoned", "timed", "wake_seconds", "retries", "prompt_tokens",
    "completion_tokens", "cache_hits", "cache_misses",
)  # fmt: skip
_OPTIONAL_NUMBERS = ("latency_p50", "latency_p95", "latency_p99")
_BATCH_FIELDS = (
    "answered", "failed", "seconds", "goodput", "limit", "queue_waits", "overload_retries",
)  # fmt: skip


def page_stats(stats: SpacesStats, folder: Path) -> dict[str, Any]:
    """``GET /api/stats``: ``{"session": {"rows": [...]}, "folder": ..., "runs": [...]}``."""
    return {
        "session": {"rows": [r.as_dict() for r in stats.snapshot().rows]},
        "folder": str(folder),
        "runs": recorded_runs(folder),
    }


def recorded_runs(folder: Path) -> list[dict[str, Any]]:
    """The ``*.stats.json`` files in ``folder``, newest first, at most :data:`MAX_RUNS`."""
    try:
        base = folder.resolve()
        found = []
        for path in base.glob("*" + SUFFIX):
            try:
                if path.is_symlink() or not path.is_file() or path.resolve().parent != base:
                    continue
                found.append((path.stat().st_mtime, path))
            except OSError:
                continue
    except OSError:
        return []
    found.sort(key=lambda item: (-item[0], item[1].name))
    return [_run(path, mtime) for mtime, path in found[:MAX_RUNS]]


def _run(path: Path, mtime: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "file": path.name,
        "output": path.name[: -len(SUFFIX)],
        "modified": datetime.fromtimestamp(mtime, timezone.utc).isoformat(timespec="seconds"),
        "ok": False,
        "error": None,
        "rows": [],
        "batch": None,
        "batch_line": None,
    }
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise ValueError(f"larger than {MAX_BYTES // 1024} KiB")
        try:
            raw = json.loads(data)
        except (ValueError, RecursionError):
            raise ValueError("not JSON") from None
        snapshot = StatsSnapshot.from_dict(raw)
        rows = [_checked(row, i) for i, row in enumerate(snapshot.rows)]
        batch = _batch(raw.get("batch"))
    except OSError as exc:
        out["error"] = f"unreadable: {exc.strerror or type(exc).__name__}"
        return out
    except (ValueError, TypeError) as exc:
        out["error"] = f"unreadable: {_reason(exc)}"
        return out
    out.update(ok=True, rows=rows, batch=batch, batch_line=batch_line(batch))
    return out


def _reason(exc: Exception) -> str:
    # from_dict's own messages are ours; a TypeError names an unexpected field's shape only.
    if isinstance(exc, TypeError):
        return "not a stats file (a row has the wrong shape)"
    return str(exc)


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _checked(row: TierStats, index: int) -> dict[str, Any]:
    """The row as JSON once every field is what the format says (or a ValueError naming it)."""
    where = f"row {index + 1}"
    if row.variant is not None and not isinstance(row.variant, str):
        raise ValueError(f"not a stats file: {where}: 'variant' is not a string")
    for name in _NUMBERS:
        if not _number(getattr(row, name)):
            raise ValueError(f"not a stats file: {where}: {name!r} is not a number")
    for name in _OPTIONAL_NUMBERS:
        value = getattr(row, name)
        if value is not None and not _number(value):
            raise ValueError(f"not a stats file: {where}: {name!r} is not a number")
    errors = row.errors
    if not isinstance(errors, Mapping) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
        for k, v in errors.items()
    ):
        raise ValueError(f"not a stats file: {where}: 'errors' is not counts by kind")
    return row.as_dict()


def _batch(value: Any) -> dict[str, Any] | None:
    """The batch's own figures, known fields only; ``None`` when there are none."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError("not a stats file: 'batch' is not an object")
    out = {}
    for name in _BATCH_FIELDS:
        if name in value:
            if not _number(value[name]):
                raise ValueError(f"not a stats file: batch {name!r} is not a number")
            out[name] = value[name]
    return out
