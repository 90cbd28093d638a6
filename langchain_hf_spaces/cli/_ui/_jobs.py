"""Test Connection jobs: ``doctor``'s checks of one tier in a thread, its wait events recorded
for the page to poll (a sleeping Space wakes while the page shows stage, elapsed and budget).

Each job's client is watched by the page server's :class:`~langchain_hf_spaces._stats.SpacesStats`
(besides the default observers), so the page shows the stats of the calls made from it."""

from __future__ import annotations

import io
import secrets
import threading
from collections import OrderedDict
from dataclasses import asdict
from typing import Any

from langchain_hf_spaces import WaitEvent
from langchain_hf_spaces._observe import default_observers
from langchain_hf_spaces._stats import SpacesStats
from langchain_hf_spaces.cli._console import Console, WaitProgress, wait_line
from langchain_hf_spaces.cli._doctor import TierResult, _doctor_tier
from langchain_hf_spaces.config import SpaceConfig

__all__ = ["Job", "Jobs"]

_KEEP = 64
"""Finished jobs kept for the page to read (the oldest are dropped)."""


class Job:
    """One Test Connection: its wait events so far, and the doctor's result once done."""

    def __init__(self, tier: str, cfg: SpaceConfig, stats: SpacesStats | None = None) -> None:
        self.id = secrets.token_urlsafe(12)
        self.tier = tier
        self.cfg = cfg
        self.stats = stats
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self._result: dict[str, Any] | None = None

    def add(self, event: WaitEvent) -> None:
        """The client's ``on_wait`` callback."""
        shown = {
            "reason": event.reason,
            "stage": event.stage,
            "elapsed": event.elapsed,
            "budget": event.budget,
            "delay": event.delay,
            "attempt": event.attempt,
            "max_attempts": event.max_attempts,
            "detail": event.detail,
            "line": wait_line(event, event.elapsed).strip(),
        }
        with self._lock:
            self._events.append(shown)

    def run(self) -> None:
        try:
            observers = None if self.stats is None else [*default_observers(), self.stats]
            result = _doctor_tier(self.tier, self.cfg, None, _Progress(self), observers=observers)
            shown = _result_json(result)
        except Exception as exc:  # reported on the page, like doctor's last resort
            shown = {
                "ok": False,
                "tier": self.tier,
                "url": self.cfg.url,
                "checks": [],
                "error": f"unexpected {type(exc).__name__}: {exc}",
                "error_type": type(exc).__name__,
                "hint": "This looks like a bug; run `hf-spaces doctor --debug`.",
            }
        with self._lock:
            self._result = shown

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "id": self.id,
                "tier": self.tier,
                "done": self._result is not None,
                "events": list(self._events),
                "result": self._result,
            }


def _result_json(result: TierResult) -> dict[str, Any]:
    out = asdict(result)
    out["ok"] = result.ok
    out["summary"] = result.summary()
    return out


class _Progress(WaitProgress):
    """``doctor``'s progress object, recording the events instead of drawing them."""

    def __init__(self, job: Job) -> None:
        super().__init__(Console(io.StringIO(), io.StringIO()))
        self.job = job

    def __call__(self, event: WaitEvent) -> None:
        self.job.add(event)

    def finish(self) -> None:
        pass


class Jobs:
    """The jobs of one page server, by id; ``stats`` counts their calls."""

    def __init__(self, stats: SpacesStats | None = None) -> None:
        self.stats = stats
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()

    def start(self, tier: str, cfg: SpaceConfig) -> Job:
        job = Job(tier, cfg, self.stats)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > _KEEP:
                self._jobs.popitem(last=False)
        threading.Thread(target=job.run, name=f"hf-spaces-ui-test:{tier}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)
