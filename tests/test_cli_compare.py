"""``--profile`` on the commands, and ``hf-spaces compare``: real LocalSpaces, one a profile,
driven through ``main([...])`` in a temporary directory holding the settings file."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from langchain_hf_spaces.cli import main
from langchain_hf_spaces.cli._compare import Outcome, summarize
from langchain_hf_spaces.testing import LocalSpace, ResponderError

TOKEN = "hf_CompareStagingToken0123456789ab"
"""The staging Space's token: no output may ever contain it."""


class _Recorder:
    """Answers with the Space's name and the prompt; records the order and the calls in
    flight, and fails a prompt containing "fail". Until ``overlap`` calls are in flight at
    once, each call waits (at most a few seconds) for the others, so a concurrency bound shows."""

    def __init__(self, name: str, log: list[tuple[str, str]], overlap: int = 1) -> None:
        self.name = name
        self.log = log
        self.overlap = overlap
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.together = threading.Event()

    def __call__(self, prompt: str, parameters: dict[str, Any]) -> str:
        with self.lock:
            self.log.append((self.name, prompt))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.in_flight >= self.overlap:
                self.together.set()
        try:
            self.together.wait(timeout=5)
            if "fail" in prompt:
                raise ResponderError("the staging model tripped", status=422)
            return f"{self.name} says: {prompt}"
        finally:
            with self.lock:
                self.in_flight -= 1


@pytest.fixture
def log() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def recorders(log: list[tuple[str, str]]) -> dict[str, _Recorder]:
    return {
        "staging": _Recorder("staging", log),
        "production": _Recorder("production", log),
    }


@pytest.fixture
def spaces(recorders: dict[str, _Recorder]) -> Iterator[dict[str, LocalSpace]]:
    with (
        LocalSpace(name="production", responder=recorders["production"]) as production,
        LocalSpace(name="staging", token=TOKEN, responder=recorders["staging"]) as staging,
    ):
        yield {"production": production, "staging": staging}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spaces: dict[str, LocalSpace]) -> Path:
    for name in list(os.environ):
        if name.startswith("HF_SPACES_") or name.startswith("HF_TOKEN"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("STAGING_TOKEN", TOKEN)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hf-spaces.toml").write_text(
        f"""version = 1

[tiers.base]
url = "{spaces["production"].url}"
max_retries = 0

[profiles.production]
default_tier = "base"

[profiles.off]
enabled = false

[profiles.staging.tiers.base]
url = "{spaces["staging"].url}"
token_env = "STAGING_TOKEN"
revision = "rc1"
"""
    )
    (tmp_path / "prompts.txt").write_text("A slogan\nA haiku\n\nA limerick\nA riddle\n")
    return tmp_path


PROMPTS = ["A slogan", "A haiku", "A limerick", "A riddle"]


def _compare(*extra: str) -> list[str]:
    return ["compare", "--profile", "staging", "--profile", "production", "prompts.txt", *extra]


def test_compare_prints_the_answers_side_by_side(
    workdir: Path, capsys: pytest.CaptureFixture[str], log: list[tuple[str, str]]
) -> None:
    assert main([*_compare(), "--width", "160"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    header = lines[0]
    assert header.index("prompt") < header.index("staging") < header.index("production")
    row = next(line for line in lines if line.lstrip().startswith("4 "))  # line 4 of the file
    assert "A limerick" in row
    assert row.index("staging says: A limerick") < row.index("production says: A limerick")
    assert " ms" in row
    summary = lines[lines.index(next(x for x in lines if x.startswith("profile"))) :]
    assert summary[1].split()[:3] == ["staging", "4", "0"]
    assert summary[2].split()[:3] == ["production", "4", "0"]
    assert TOKEN not in out + err
    # The same prompts went to both, one profile after the other.
    assert sorted(p for n, p in log if n == "staging") == sorted(PROMPTS)
    assert sorted(p for n, p in log if n == "production") == sorted(PROMPTS)
    assert [n for n, _ in log] == ["staging"] * 4 + ["production"] * 4


def test_compare_json(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_compare("--json")) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is True
    assert payload["profiles"] == ["staging", "production"]
    assert [p["line"] for p in payload["prompts"]] == [1, 2, 4, 5]
    first = payload["prompts"][0]
    assert first["prompt"] == "A slogan"
    staging, production = first["answers"]["staging"], first["answers"]["production"]
    assert staging["text"] == "staging says: A slogan"
    assert production["text"] == "production says: A slogan"
    assert staging["metadata"]["profile"] == "staging"
    assert staging["metadata"]["revision"] == "rc1"
    assert production["metadata"]["profile"] == "production"
    assert staging["latency"] > 0 and staging["error"] is None
    for name in ("staging", "production"):
        figures = payload["summary"][name]
        assert figures["calls"] == 4 and figures["answered"] == 4 and figures["failed"] == 0
        latencies = sorted(p["answers"][name]["latency"] for p in payload["prompts"])
        assert figures["p95_latency"] == latencies[-1]
        assert figures["median_latency"] == (latencies[1] + latencies[2]) / 2


def test_compare_bounds_the_concurrency_within_a_profile(
    workdir: Path, recorders: dict[str, _Recorder]
) -> None:
    for recorder in recorders.values():
        recorder.overlap = 2  # the first call waits for a second one
    assert main(_compare("--concurrency", "2", "--json")) == 0
    for recorder in recorders.values():
        assert recorder.max_in_flight == 2


def test_a_failed_call_is_counted_and_exits_1(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "prompts.txt").write_text("A slogan\nPlease fail\n")
    assert main(_compare()) == 1
    out, err = capsys.readouterr()
    assert "ERROR SpaceInputError" in out or "ERROR Space" in out
    assert "line 2, staging:" in out and "line 2, production:" in out
    summary = [line.split() for line in out.splitlines() if line.startswith(("staging", "prod"))]
    assert [row[:3] for row in summary[-2:]] == [["staging", "2", "1"], ["production", "2", "1"]]
    assert TOKEN not in out + err
    assert main(_compare("--json")) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is False
    error = payload["prompts"][1]["answers"]["staging"]["error"]
    assert error["type"].startswith("Space") and "tier 'base'" in error["message"]
    assert payload["summary"]["staging"]["failed"] == 1


def test_a_refused_token_is_a_typed_error_that_never_shows_it(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "hf_CompareWrongToken9876543210zyx"
    monkeypatch.setenv("STAGING_TOKEN", wrong)
    assert main(_compare("--json")) == 1
    out, err = capsys.readouterr()
    payload = json.loads(out)
    assert payload["prompts"][0]["answers"]["staging"]["error"]["type"] == "SpaceAuthError"
    assert payload["summary"]["production"]["failed"] == 0
    assert wrong not in out + err and TOKEN not in out + err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compare", "--profile", "staging", "prompts.txt"], "two or more --profile"),
        (["compare", "prompts.txt"], "two or more --profile"),
        (
            ["compare", "--profile", "staging", "--profile", "staging", "prompts.txt"],
            "given twice",
        ),
        (
            ["compare", "--profile", "staging", "--profile", "stagin", "prompts.txt"],
            "did you mean 'staging'?",
        ),
        ([*_compare(), "--tier", "company"], "tier 'company' is not configured"),
        (
            ["compare", "--profile", "staging", "--profile", "off", "prompts.txt"],
            "disabled",
        ),
        ([*_compare(), "--temperature", "-1"], "temperature"),
        ([*_compare(), "--concurrency", "0"], "--concurrency"),
        (["compare", "--profile", "a", "--profile", "b", "missing.txt"], "cannot read"),
        (["--profile", "staging", *_compare()], "both before and after"),
        (["generate", "--profile", "staging", "--profile", "production", "hi"], "2 times"),
        (["init", "--profile", "staging", "-y", "--url", "acme/x"], "init takes no --profile"),
    ],
)
def test_usage_errors_exit_2_before_anything_is_sent(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    spaces: dict[str, LocalSpace],
    argv: list[str],
    message: str,
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert spaces["staging"].requests == [] and spaces["production"].requests == []


def test_generate_and_batch_take_a_profile(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["generate", "--profile", "staging", "A slogan", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["text"] == "staging says: A slogan"
    assert payload["metadata"]["profile"] == "staging"
    # The command line's profile wins over HF_SPACES_PROFILE, which is the default.
    monkeypatch.setenv("HF_SPACES_PROFILE", "staging")
    assert main(["generate", "A haiku", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metadata"]["profile"] == "staging"
    assert main(["generate", "--profile", "production", "A haiku", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metadata"]["profile"] == "production"
    monkeypatch.delenv("HF_SPACES_PROFILE")
    assert main(["batch", "prompts.txt", "--profile", "staging", "--no-progress"]) == 0
    records = [
        json.loads(line) for line in (workdir / "prompts.results.jsonl").read_text().splitlines()
    ]
    assert {r["metadata"]["profile"] for r in records} == {"staging"}
    assert {r["text"].split(" says")[0] for r in records} == {"staging"}


def test_doctor_checks_the_profile(
    workdir: Path, capsys: pytest.CaptureFixture[str], spaces: dict[str, LocalSpace]
) -> None:
    assert main(["doctor", "--profile", "staging"]) == 0
    out = capsys.readouterr().out
    assert "profile staging; defined: off, production, staging" in out
    assert "Tier base (profile staging)" in out
    assert "Summary (profile staging)" in out
    assert spaces["staging"].url in out and spaces["production"].url not in out
    assert TOKEN not in out
    assert spaces["production"].requests == []
    assert main(["doctor", "--profile", "staging", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["profile"] == "staging"
    assert payload["tiers"][0]["profile"] == "staging"
    assert payload["tiers"][0]["url"] == spaces["staging"].url
    # A profile not in use that would not load is a warning.
    with (workdir / "hf-spaces.toml").open("a") as fh:
        fh.write('\n[profiles.broken]\ndefault_tier = "company"\n')
    assert main(["doctor", "--profile", "staging"]) == 0
    out = capsys.readouterr().out
    assert "warn  profile" in out
    assert "with profile 'broken': " in out and "default_tier 'company'" in out
    # An unknown profile is a failed settings check naming the defined ones.
    assert main(["doctor", "--profile", "stagin"]) == 1
    assert "did you mean 'staging'?" in capsys.readouterr().out


def test_summarize_counts_and_percentiles() -> None:
    outcomes = {i: Outcome(latency=float(i)) for i in range(1, 21)}
    outcomes[21] = Outcome(latency=99.0, error={"type": "SpaceTimeoutError"})
    figures = summarize(outcomes)
    assert figures["calls"] == 21 and figures["answered"] == 20 and figures["failed"] == 1
    assert figures["median_latency"] == 10.5
    assert figures["p95_latency"] == 19.0  # nearest rank: the 19th of 20
    empty = summarize({1: Outcome(latency=1.0, error={"type": "SpaceAuthError"})})
    assert empty["median_latency"] is None and empty["p95_latency"] is None
