"""``hf-spaces doctor`` with the Hub: Space id, stage, hardware, sleep time, token origin.

The command runs in a subprocess against a LocalSpace and a FakeHub (``HF_ENDPOINT``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from langchain_hf_spaces.testing import FakeHub, LocalSpace
from tests.test_cli import TOKEN, assert_clean, run, write_settings

SPACE_ID = "acme/base-llm"


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[LocalSpace, FakeHub, Path]]:
    with LocalSpace(name="base", token=TOKEN) as space, FakeHub() as hub:
        hub.add_space(
            SPACE_ID,
            private=True,
            token=TOKEN,
            host=space.url,
            hardware="t4-small",
            gc_timeout=3600,
        )
        fields = {"url": space.url, "space_id": SPACE_ID, "token_env": "ACME_TOKEN"}
        write_settings(tmp_path / "hf-spaces.toml", {"base": fields}, default="base")
        yield space, hub, tmp_path


def test_doctor_shows_what_the_hub_says(setup: tuple[LocalSpace, FakeHub, Path]) -> None:
    _, hub, cwd = setup
    result = run("doctor", cwd=cwd, env={"HF_ENDPOINT": hub.url, "ACME_TOKEN": TOKEN})
    assert result.returncode == 0, result.stdout
    out = result.stdout
    assert f"{SPACE_ID}: stage RUNNING, hardware t4-small, sleeps after 60 min idle" in out
    assert "token from env ACME_TOKEN" in out
    assert_clean(result)


def test_doctor_fails_fast_on_a_paused_space(setup: tuple[LocalSpace, FakeHub, Path]) -> None:
    space, hub, cwd = setup
    hub.set_stage(SPACE_ID, "PAUSED")
    space.sleep_for(120)
    result = run("doctor", cwd=cwd, env={"HF_ENDPOINT": hub.url, "ACME_TOKEN": TOKEN})
    assert result.returncode == 1
    assert f"{SPACE_ID}: stage PAUSED" in result.stdout
    assert "SpacePausedError" in result.stdout
    assert len(space.requests) == 0  # the Hub's word was enough: the Space was not polled
    assert_clean(result)


def test_doctor_without_the_hub_says_so(setup: tuple[LocalSpace, FakeHub, Path]) -> None:
    _, hub, cwd = setup
    hub.down()
    result = run("doctor", cwd=cwd, env={"HF_ENDPOINT": hub.url, "ACME_TOKEN": TOKEN})
    assert result.returncode == 0, result.stdout
    assert f"{SPACE_ID}: the Hub ({hub.url}) did not answer" in result.stdout
