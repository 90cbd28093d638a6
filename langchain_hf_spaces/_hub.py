"""What the Hugging Face Hub says about a Space's runtime, asked while waiting. No I/O.

``GET {HF_ENDPOINT}/api/spaces/{space_id}/runtime`` answers the Space's ``stage`` (an open set:
``RUNNING``, ``SLEEPING``, ``BUILDING``, ``APP_STARTING``, ``PAUSED``, ``RUNTIME_ERROR`` ...),
its ``hardware`` and, for a failed Space, ``errorMessage``. The exchange asks it before waiting on
a 502/503 (:class:`HubWatch` decides when, politely: at most every few seconds, never before a
``RateLimit`` reset, and not again for a while after the Hub failed to answer), so a paused or
crashed Space fails at once instead of after ``wake_timeout``, and a GPU Space gets a longer
default wait.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces.config import hub_endpoint
from langchain_hf_spaces.errors import HFSpacesError, SpacePausedError, SpaceRuntimeError

__all__ = [
    "FAILED_STAGES",
    "PAUSED_STAGES",
    "HubWatch",
    "SpaceRuntime",
    "parse_ratelimit_reset",
    "parse_runtime",
    "space_host",
    "stage_error",
]

PAUSED_STAGES = frozenset({"PAUSED"})
"""Stages that never end by themselves: the owner must restart the Space."""
FAILED_STAGES = frozenset({"RUNTIME_ERROR", "BUILD_ERROR", "CONFIG_ERROR", "NO_APP_FILE"})
"""Stages where the Space will not answer until it is fixed."""
ASLEEP_STAGES = frozenset({"SLEEPING", "STOPPED"})
"""A request wakes a sleeping Space (the wait that follows is its start-up)."""

_RATELIMIT_T = re.compile(r"(?:^|;)\s*t\s*=\s*(\d+)")


@dataclass(frozen=True, slots=True)
class SpaceRuntime:
    stage: str
    hardware: str | None = None
    requested_hardware: str | None = None
    error_message: str | None = None
    sleep_time: int | None = None
    """Seconds of inactivity after which the Space sleeps (the Hub's ``gcTimeout``)."""

    @property
    def gpu(self) -> bool:
        """Runs (or will run) on a GPU: start-ups take minutes."""
        hw = self.hardware or self.requested_hardware or ""
        return bool(hw) and not hw.startswith("cpu")

    @property
    def waking_note(self) -> str:
        if self.stage in ASLEEP_STAGES:
            return f"Hub stage {self.stage} (the request wakes it)"
        return f"Hub stage {self.stage}"


def stage_error(
    runtime: SpaceRuntime | None, *, tier: str | None, url: str, status_code: int | None = None
) -> HFSpacesError | None:
    """The typed error for a Space the Hub reports paused or failed, else ``None``."""
    if runtime is None:
        return None
    if runtime.stage in PAUSED_STAGES:
        return SpacePausedError(
            "The Space is paused (Hub stage PAUSED) and will not wake up on its own.",
            tier=tier,
            url=url,
            status_code=status_code,
        )
    if runtime.stage in FAILED_STAGES:
        said = f": {runtime.error_message}" if runtime.error_message else ""
        return SpaceRuntimeError(
            f"The Space is down with Hub stage {runtime.stage}{said}",
            stage=runtime.stage,
            error_message=runtime.error_message,
            tier=tier,
            url=url,
            status_code=status_code,
        )
    return None


def parse_runtime(body: bytes) -> SpaceRuntime | None:
    """A runtime answer, or ``None`` when the body is not one."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(data, Mapping) or not isinstance(data.get("stage"), str):
        return None
    hardware = data.get("hardware")
    hw: Mapping[str, Any] = hardware if isinstance(hardware, Mapping) else {}
    gc = data.get("gcTimeout")
    err = data.get("errorMessage")
    return SpaceRuntime(
        stage=str(data["stage"]).upper(),
        hardware=hw.get("current") if isinstance(hw.get("current"), str) else None,
        requested_hardware=hw.get("requested") if isinstance(hw.get("requested"), str) else None,
        error_message=err if isinstance(err, str) and err.strip() else None,
        sleep_time=gc if isinstance(gc, int) and not isinstance(gc, bool) else None,
    )


def space_host(body: bytes) -> str | None:
    """The ``host`` in the Hub's space info (where the Space is really served), if any."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    host = data.get("host") if isinstance(data, Mapping) else None
    return host.rstrip("/") if isinstance(host, str) and host.startswith("http") else None


def parse_ratelimit_reset(headers: Mapping[str, str]) -> float | None:
    """Seconds until the Hub's rate-limit window resets (``RateLimit: "api";r=0;t=55``)."""
    value = headers.get("ratelimit")
    if not value:
        return None
    found = _RATELIMIT_T.search(value)
    return float(found.group(1)) if found else None


class HubWatch:
    """When to ask the Hub about one Space, and what it said last (shared by its calls)."""

    __slots__ = ("blocked_until", "checked_at", "endpoint", "runtime", "space_id")

    def __init__(self, space_id: str, endpoint: str | None = None) -> None:
        self.space_id = space_id
        self.endpoint = endpoint or hub_endpoint()
        self.runtime: SpaceRuntime | None = None
        self.checked_at = float("-inf")
        self.blocked_until = float("-inf")

    @property
    def url(self) -> str:
        return f"{self.endpoint}/api/spaces/{self.space_id}/runtime"

    def due(self, now: float) -> bool:
        return now >= self.blocked_until and now - self.checked_at >= C.HUB_POLL_INTERVAL

    def take(self, status: int | None, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Note the Hub's answer (``status`` None: it could not be reached)."""
        self.checked_at = now
        if status == 200:
            runtime = parse_runtime(body)
            if runtime is not None:
                self.runtime = runtime
                return
        if status == 429:
            reset = parse_ratelimit_reset(headers)
            self.blocked_until = now + (reset if reset is not None else C.HUB_RETRY_AFTER_FAILURE)
        else:  # down, unknown Space, no access: the heuristics carry on alone for a while
            self.blocked_until = now + C.HUB_RETRY_AFTER_FAILURE
        self.runtime = None
