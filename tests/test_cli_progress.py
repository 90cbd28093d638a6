"""The progress lines of ``hf-spaces``: wait events (``on_wait``) and the batch bar, no sockets."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import pytest

from langchain_hf_spaces import WaitEvent
from langchain_hf_spaces.cli import main
from langchain_hf_spaces.cli._console import Console, ProgressBar, WaitProgress, wait_line
from langchain_hf_spaces.testing import Fault, LocalSpace

URL = "https://acme-base-llm.hf.space"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _event(reason: str, **kw: Any) -> WaitEvent:
    fields: dict[str, Any] = {"tier": "base", "url": URL, "elapsed": 0.0, "delay": 0.5}
    fields.update(kw)
    return WaitEvent(reason=reason, **fields)


def test_each_kind_of_wait_has_its_line() -> None:
    waking = _event("waking", elapsed=14.2, budget=300.0, attempt=3)
    assert wait_line(waking, 14.2) == (
        "  base: the Space is waking up: 14s elapsed of wake_timeout=300s"
    )
    limited = _event("rate_limited", attempt=1, max_attempts=2, status_code=429)
    assert wait_line(limited, 0) == "  base: rate limited, retry 1/2 in 0.5s"
    retrying = _event("retrying", attempt=2, max_attempts=2, delay=1.5, detail="HTTP 503")
    assert wait_line(retrying, 0) == "  base: HTTP 503, retry 2/2 in 1.5s"
    queued = _event("queued", elapsed=3.0, detail="position 4")
    assert wait_line(queued, 3.0) == "  base: waiting in the Space's queue (position 4): 3s elapsed"
    anonymous = _event("retrying", tier=None, attempt=1, detail="ConnectError")
    assert wait_line(anonymous, 0) == f"  {URL}: ConnectError, retry 1 in 0.5s"


def test_without_a_terminal_each_event_is_one_line() -> None:
    err = io.StringIO()
    progress = WaitProgress(Console(io.StringIO(), err))
    for poll, elapsed in enumerate((0.0, 0.5, 1.0), 1):
        progress(_event("waking", elapsed=elapsed, budget=30.0, attempt=poll))
    progress(_event("rate_limited", attempt=1, max_attempts=2))
    progress.finish()
    lines = err.getvalue().splitlines()
    assert len(lines) == 4
    assert all(ln.startswith("  base: the Space is waking up: ") for ln in lines[:3])
    assert all(ln.endswith("elapsed of wake_timeout=30s") for ln in lines[:3])
    assert lines[3] == "  base: rate limited, retry 1/2 in 0.5s"
    assert "\r" not in err.getvalue()


def test_on_a_terminal_the_line_is_redrawn_while_waking_and_cleared_after() -> None:
    err = _Terminal()
    progress = WaitProgress(Console(io.StringIO(), err))
    progress(_event("waking", elapsed=5.0, budget=300.0, attempt=1))
    time.sleep(1.2)  # the clock ticks on its own, twice a second
    progress.finish()
    text = err.getvalue()
    frames = [f for f in text.split("\r\x1b[2K") if f]
    assert len(frames) >= 2  # the first draw and at least one tick
    assert frames[0] == "  base: the Space is waking up: 5s elapsed of wake_timeout=300s"
    assert frames[-1].startswith("  base: the Space is waking up: 6s elapsed")
    assert text.endswith("\r\x1b[2K")  # cleared: the answer starts on a clean line
    assert "\n" not in text
    length = len(text)
    time.sleep(0.7)
    assert len(err.getvalue()) == length  # the ticker has stopped


def test_finish_without_a_wait_writes_nothing() -> None:
    err = _Terminal()
    WaitProgress(Console(io.StringIO(), err)).finish()
    assert err.getvalue() == ""


def test_the_batch_bar_is_drawn_in_place_and_ends_with_a_summary_line() -> None:
    err = _Terminal()
    bar = ProgressBar(Console(io.StringIO(), err), 4, enabled=True)
    bar.advance(False)
    bar.advance(True)
    bar.close()
    frames = err.getvalue().split("\r\x1b[2K")
    assert frames[1].startswith("[" + "#" * 7 + "." * 23 + "] 1/4  25%  0 failed")
    assert frames[-1].startswith("[" + "#" * 15 + "." * 15 + "] 2/4  50%  1 failed")
    assert frames[-1].endswith("s\n")


def test_generate_shows_each_retry_the_client_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith(("HF_SPACES_", "HF_TOKEN")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    with LocalSpace(name="base") as space:
        (tmp_path / "hf-spaces.toml").write_text(
            f'version = 1\n\n[tiers.base]\nurl = "{space.url}"\n', encoding="utf-8"
        )
        space.inject(Fault.server_error(503))
        space.inject(Fault.rate_limited(retry_after=0.1))
        assert main(["generate", "Hello"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Demo answer from base")
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("  base: HTTP 503, retry 1/2 in ")
    assert lines[1] == "  base: rate limited, retry 2/2 in 0.1s"
