"""``hf-spaces batch --cache PATH`` and ``hf-spaces stats OUTPUT``, run as a user runs them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from langchain_hf_spaces.testing import LocalSpace, scripted_responder
from tests.test_cli import assert_clean, run, write_settings


@pytest.fixture(scope="module")
def space() -> Iterator[LocalSpace]:
    responder = scripted_responder({"fail": ValueError("no"), "": "an answer"})
    with LocalSpace(name="batch", responder=responder) as s:
        yield s


def _setup(tmp_path: Path, space: LocalSpace, prompts: str) -> None:
    write_settings(
        tmp_path / "hf-spaces.toml",
        {"base": {"url": space.url, "protocol": "tgi", "max_retries": 0}},
        default="base",
    )
    (tmp_path / "prompts.txt").write_text(prompts, encoding="utf-8")


def test_batch_cache_answers_again_without_asking_and_stats_show_it(
    tmp_path: Path, space: LocalSpace
) -> None:
    _setup(tmp_path, space, "one\ntwo\nthree\n")
    space.clear_requests()
    first = run("batch", "prompts.txt", "--seed", "1", "--cache", "answers.db", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert len(_generations(space)) == 3 and (tmp_path / "answers.db").exists()
    stats_file = tmp_path / "prompts.results.jsonl.stats.json"
    assert "hf-spaces stats prompts.results.jsonl" in first.stderr
    data = json.loads(stats_file.read_text(encoding="utf-8"))
    (row,) = data["rows"]
    assert (row["tier"], row["calls"], row["cache_hits"], row["cache_misses"]) == ("base", 3, 0, 3)

    again = run(
        "batch", "prompts.txt", "--seed", "1", "--cache", "answers.db", "--restart", cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr
    assert len(_generations(space)) == 3  # every answer came from the cache
    out = tmp_path / "prompts.results.jsonl"
    records = [json.loads(ln) for ln in out.read_text(encoding="utf-8").splitlines()]
    assert [r["metadata"].get("cached") for r in records] == [True, True, True]
    assert_clean(again)

    table = run("stats", "prompts.results.jsonl", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    head, line = table.stdout.splitlines()[:2]
    assert head.split()[:4] == ["tier", "variant", "calls", "errors"]
    assert line.split()[:4] == ["base", "-", "3", "0"] and line.split()[-1] == "3/0"
    as_json = run("stats", "prompts.results.jsonl.stats.json", "--json", cwd=tmp_path)
    assert json.loads(as_json.stdout)["rows"][0]["cache_hits"] == 3


def _generations(space: LocalSpace) -> list[Any]:
    """The generation requests the Space got (a batch also reads the Space's limits: GET /info)."""
    return [r for r in space.requests if r.method == "POST"]


def test_sampled_prompts_are_cached_only_with_cache_all(tmp_path: Path, space: LocalSpace) -> None:
    _setup(tmp_path, space, "one\ntwo\n")
    space.clear_requests()
    for _ in range(2):
        done = run("batch", "prompts.txt", "--cache", "a.db", "--restart", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    assert len(_generations(space)) == 4  # not deterministic: asked each time
    for _ in range(2):
        done = run(
            "batch", "prompts.txt", "--cache", "a.db", "--cache-all", "--restart", cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
    assert len(_generations(space)) == 6


def test_errors_are_counted_by_kind_and_not_cached(tmp_path: Path, space: LocalSpace) -> None:
    _setup(tmp_path, space, "fail here\nfine\n")
    space.clear_requests()
    for _ in range(2):
        done = run("batch", "prompts.txt", "--seed", "2", "--cache", "c.db", cwd=tmp_path)
        assert done.returncode == 1
    # the batch runs its prompts concurrently: the order of the first run's two is not fixed
    asked = [r.json["inputs"] for r in _generations(space)]
    assert sorted(asked) == ["fail here", "fail here", "fine"] and asked[-1] == "fail here"
    shown = run("stats", "prompts.results.jsonl", cwd=tmp_path)
    assert "base: 1 x SpaceUnavailableError" in shown.stdout, shown.stdout


def test_usage_errors(tmp_path: Path, space: LocalSpace) -> None:
    _setup(tmp_path, space, "one\n")
    (tmp_path / "folder").mkdir()
    bad = run("batch", "prompts.txt", "--cache", "folder", cwd=tmp_path)
    assert bad.returncode == 2 and "--cache 'folder' cannot be used" in bad.stderr
    lonely = run("batch", "prompts.txt", "--cache-all", cwd=tmp_path)
    assert lonely.returncode == 2 and "--cache-all needs --cache" in lonely.stderr
    missing = run("stats", "nothing.jsonl", cwd=tmp_path)
    assert missing.returncode == 2 and "nothing.jsonl.stats.json" in missing.stderr
    assert "hf-spaces batch" in missing.stderr
    (tmp_path / "junk.stats.json").write_text("[1, 2]", encoding="utf-8")
    junk = run("stats", "junk.stats.json", cwd=tmp_path)
    assert junk.returncode == 2 and "not a stats file" in junk.stderr
    for result in (bad, lonely, missing, junk):
        assert_clean(result)


def test_the_stats_of_a_batch_run_include_its_goodput_and_limit(tmp_path: Path) -> None:
    # A Space serving one request at a time (TGI's 429 past it): the batch's own figures are
    # recorded beside the per-tier stats, overload answers retried rather than failed.
    with LocalSpace(name="narrow", max_concurrent=1) as narrow:
        _setup(tmp_path, narrow, "".join(f"prompt {i}\n" for i in range(8)))
        done = run("batch", "prompts.txt", "--concurrency", "8", "--no-progress", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "prompts.results.jsonl.stats.json").read_text("utf-8"))
    figures = data["batch"]
    assert (figures["answered"], figures["failed"]) == (8, 0)
    assert 1 <= figures["limit"] <= 8 and figures["goodput"] > 0
    assert figures["overload_retries"] == sum(data["rows"][0]["errors"].values())
    shown = run("stats", "prompts.results.jsonl", cwd=tmp_path)
    assert "batch: 8 answered, 0 failed in" in shown.stdout, shown.stdout
    assert "answers/s), limit" in shown.stdout
    as_json = json.loads(run("stats", "prompts.results.jsonl", "--json", cwd=tmp_path).stdout)
    assert as_json["batch"] == figures
