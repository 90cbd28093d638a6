"""The page's "Stats": the calls its Test Connection jobs made, and the batch runs recorded in the
settings file's folder (``GET /api/stats``, and the section app.js renders)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from langchain_hf_spaces import SpaceConfig, SpacesClient, SpacesSettings
from langchain_hf_spaces.cli._stats import write_stats
from langchain_hf_spaces.cli._ui._stats import MAX_RUNS
from langchain_hf_spaces.testing import LocalSpace, scripted_responder
from tests.conftest import PLANTED_TOKEN
from tests.test_cli import run, write_settings
from tests.ui.conftest import Served, open_page


@pytest.fixture
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="base") as running:
        yield running


@pytest.fixture
def private_space() -> Iterator[LocalSpace]:
    with LocalSpace(name="company", token=PLANTED_TOKEN) as running:
        yield running


def _card(name: str, token_new: str = "", **values: str) -> dict[str, Any]:
    return {"name": name, "values": values, "token_new": token_new, "token_clear": False}


def _stats(served: Served) -> dict[str, Any]:
    r = httpx.get(served.base + "/api/stats", headers=served.headers)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def _test_connection(served: Served, card: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(served.base + "/api/test", headers=served.headers, json=card)
    assert r.status_code == 200 and r.json()["job"], r.text
    job = r.json()["job"]
    for _ in range(600):  # polled as the page polls it (no timing asserted)
        status = httpx.get(served.base + f"/api/test/{job}", headers=served.headers).json()
        if status["done"]:
            result: dict[str, Any] = status["result"]
            return result
        time.sleep(0.05)
    raise AssertionError("the Test Connection job never finished")


def test_a_test_connection_is_counted_per_tier_with_its_errors_and_no_token(
    settings_page: Served, space: LocalSpace, private_space: LocalSpace
) -> None:
    assert _stats(settings_page)["session"] == {"rows": []}
    assert _test_connection(settings_page, _card("base", url=space.url))["ok"] is True
    (row,) = _stats(settings_page)["session"]["rows"]
    assert (row["tier"], row["variant"], row["calls"], row["errors"]) == ("base", None, 1, {})
    assert row["timed"] == 1 and row["latency_p50"] is not None
    assert row["latency_p50"] <= row["latency_p95"] <= row["latency_p99"]

    # a refused token: counted as an error of its kind, on its own tier
    refused = _test_connection(
        settings_page, _card("company", "hf_wrongWRONGwrong123", url=private_space.url)
    )
    assert refused["error_type"] == "SpaceAuthError"
    ok = _test_connection(settings_page, _card("company", PLANTED_TOKEN, url=private_space.url))
    assert ok["ok"] is True
    rows = {r["tier"]: r for r in _stats(settings_page)["session"]["rows"]}
    assert rows["base"]["calls"] == 1  # not counted again
    assert rows["company"]["calls"] == 2
    assert rows["company"]["errors"] == {"SpaceAuthError": 1}
    r = httpx.get(settings_page.base + "/api/stats", headers=settings_page.headers)
    assert PLANTED_TOKEN not in r.text and "hf_wrong" not in r.text


def test_a_batch_run_is_listed_with_its_rows_and_batch_line(
    settings_page: Served, tmp_path: Path
) -> None:
    responder = scripted_responder({"fail": ValueError("no"), "": "an answer"})
    with LocalSpace(name="batch", responder=responder) as space:
        write_settings(
            settings_page.path,
            {"base": {"url": space.url, "protocol": "tgi", "max_retries": 0}},
            default="base",
        )
        (tmp_path / "prompts.txt").write_text("one\ntwo\nthree\n", encoding="utf-8")
        done = run("batch", "prompts.txt", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    written = json.loads((tmp_path / "prompts.results.jsonl.stats.json").read_text())

    (listed,) = _stats(settings_page)["runs"]
    assert listed["ok"] is True and listed["error"] is None
    assert (listed["file"], listed["output"]) == (
        "prompts.results.jsonl.stats.json",
        "prompts.results.jsonl",
    )
    (row,) = listed["rows"]
    assert (row["tier"], row["calls"], row["errors"]) == ("base", 3, {})
    assert listed["rows"] == written["rows"]
    assert listed["batch"]["answered"] == 3 and listed["batch"]["failed"] == 0
    assert listed["batch_line"].startswith("batch: 3 answered, 0 failed in ")


def _snapshot_file(folder: Path, output: str, prompts: list[str]) -> Path:
    """A stats file as ``batch`` writes it: a real client's stats after real calls."""
    responder = scripted_responder({"": "an answer"})
    with LocalSpace(name="w", responder=responder) as space:
        settings = SpacesSettings(tiers={"base": SpaceConfig(url=space.url, protocol="tgi")})
        with SpacesClient(settings) as spaces:
            for prompt in prompts:
                spaces.generate(prompt)
            batch = {"answered": len(prompts), "failed": 0, "seconds": 0.5, "goodput": 2.0}
            batch |= {"limit": 2, "queue_waits": 0, "overload_retries": 0}
            return write_stats(folder / output, spaces.stats(), batch)


def test_runs_are_newest_first_at_most_ten_and_a_bad_file_is_unreadable(
    settings_page: Served, tmp_path: Path
) -> None:
    old = _snapshot_file(tmp_path, "old.jsonl", ["a"])
    new = _snapshot_file(tmp_path, "new.jsonl", ["a", "b"])
    corrupt = tmp_path / "corrupt.jsonl.stats.json"
    corrupt.write_text('{"rows": [', encoding="utf-8")
    wrong = tmp_path / "wrong.jsonl.stats.json"  # a token where a number belongs
    wrong.write_text(json.dumps({"rows": [{"tier": "base", "calls": PLANTED_TOKEN}]}))
    for age, path in enumerate([new, corrupt, wrong, old]):
        os.utime(path, (1_700_000_000 - age * 60, 1_700_000_000 - age * 60))
    data = _stats(settings_page)
    assert [r["file"] for r in data["runs"]] == [p.name for p in (new, corrupt, wrong, old)]
    by_name = {r["file"]: r for r in data["runs"]}
    assert by_name[new.name]["rows"][0]["calls"] == 2
    assert by_name[old.name]["rows"][0]["calls"] == 1
    assert by_name[new.name]["batch_line"].startswith("batch: 2 answered")
    for bad in (corrupt, wrong):
        shown = by_name[bad.name]
        assert shown["ok"] is False and shown["rows"] == []
        assert shown["error"].startswith("unreadable: ")
    assert "'calls' is not a number" in by_name[wrong.name]["error"]
    r = httpx.get(settings_page.base + "/api/stats", headers=settings_page.headers)
    assert PLANTED_TOKEN not in r.text

    for i in range(MAX_RUNS + 2):
        extra = tmp_path / f"extra{i}.jsonl.stats.json"
        extra.write_text(old.read_text())
        os.utime(extra, (1_600_000_000 + i, 1_600_000_000 + i))  # older than the four
    assert len(_stats(settings_page)["runs"]) == MAX_RUNS


def test_no_stats_file_outside_the_settings_folder_is_read(
    settings_page: Served, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    outside = _snapshot_file(elsewhere, "secret.jsonl", ["a"])
    (tmp_path / "link.jsonl.stats.json").symlink_to(outside)
    (tmp_path / "sub").mkdir()
    _snapshot_file(tmp_path / "sub", "nested.jsonl", ["a"])
    (tmp_path / "dir.stats.json").mkdir()
    assert _stats(settings_page)["runs"] == []
    mine = _snapshot_file(tmp_path, "mine.jsonl", ["a"])
    assert [r["file"] for r in _stats(settings_page)["runs"]] == [mine.name]


def test_the_stats_api_has_the_guard_of_every_api_route(settings_page: Served) -> None:
    url = settings_page.base + "/api/stats"
    for headers in ({}, {"X-HF-Spaces-Session": "wrong"}):
        assert httpx.get(url, headers=headers).status_code == 403
    rebound = {**settings_page.headers, "Host": f"evil.example:{settings_page.server.port}"}
    assert httpx.get(url, headers=rebound).status_code == 400
    answer = httpx.get(url, headers=settings_page.headers)
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers
    assert answer.headers["cache-control"] == "no-store"


def test_the_page_shows_the_stats_after_a_test_connection_and_on_refresh(
    page: Page, settings_page: Served, space: LocalSpace, tmp_path: Path
) -> None:
    open_page(page, settings_page)
    session = page.locator("#stats-session")
    expect(session).to_contain_text("No calls recorded.")
    page.fill("#base-url", space.url)
    page.locator("#tier-base").get_by_role("button", name="Test Connection").click()
    expect(page.locator("#base-result")).to_contain_text("Connection OK", timeout=20_000)
    row = session.locator("table.stats tbody tr[data-tier=base]")
    expect(row).to_have_count(1)
    expect(row.locator("td[data-key=calls]")).to_have_text("1")
    expect(row.locator("td[data-key=errors]")).to_have_text("0")
    expect(row.locator("td[data-key=latency_p50]")).not_to_have_text("-")
    expect(page.locator("#stats-runs")).to_contain_text("No batch runs recorded here.")

    # a batch run recorded meanwhile shows up on Refresh, with its batch line; a bad file too
    _snapshot_file(tmp_path, "run.jsonl", ["a", "b"])
    (tmp_path / "bad.jsonl.stats.json").write_text("not json", encoding="utf-8")
    page.get_by_role("button", name="Refresh").click()
    runs = page.locator("#stats-runs")
    expect(runs.locator(".run")).to_have_count(2)
    recorded = runs.locator(".run:not(.unreadable)")
    expect(recorded).to_contain_text("run.jsonl")
    expect(recorded.locator(".batch-line")).to_contain_text("batch: 2 answered, 0 failed")
    expect(recorded.locator("td[data-key=calls]")).to_have_text("2")
    expect(runs.locator(".run.unreadable")).to_contain_text(
        "bad.jsonl.stats.json: unreadable: not JSON"
    )
