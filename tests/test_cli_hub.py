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


def test_doctor_warns_when_the_hub_serves_the_space_elsewhere(tmp_path: Path) -> None:
    with LocalSpace(name="base") as space, FakeHub() as hub:
        hub.add_space(SPACE_ID, host="https://acme-base-llm-0a1b2c.hf.space")
        fields = {"url": space.url, "space_id": SPACE_ID}
        write_settings(tmp_path / "hf-spaces.toml", {"base": fields}, default="base")
        result = run("doctor", cwd=tmp_path, env={"HF_ENDPOINT": hub.url})
    assert result.returncode == 0, result.stdout
    assert "the Hub serves it at https://acme-base-llm-0a1b2c.hf.space" in result.stdout
    assert "Set url = 'https://acme-base-llm-0a1b2c.hf.space'" in result.stdout


def test_init_asks_the_hub_where_a_space_id_is_served(tmp_path: Path) -> None:
    with FakeHub() as hub:
        hub.add_space(SPACE_ID, host="https://acme-base-llm-0a1b2c.hf.space")
        hub.add_space("acme/other", host="https://acme-other.hf.space")
        args = [
            "init",
            "--non-interactive",
            "--url",
            f"base={SPACE_ID}",
            "--url",
            "user=acme/other",
        ]
        result = run(*args, cwd=tmp_path, env={"HF_ENDPOINT": hub.url})
        assert result.returncode == 0, result.stderr
        written = (tmp_path / "hf-spaces.toml").read_text()
        assert 'url = "https://acme-base-llm-0a1b2c.hf.space"' in written
        assert f'space_id = "{SPACE_ID}"' in written
        assert "the Hub serves acme/base-llm at https://acme-base-llm-0a1b2c.hf.space" in (
            result.stdout
        )
        assert "the Hub confirms acme/other is served at" in result.stdout
        hub.down()
        again = run(*args, "--force", cwd=tmp_path, env={"HF_ENDPOINT": hub.url})
    assert again.returncode == 0, again.stderr
    assert "did not answer; using https://acme-base-llm.hf.space, computed from" in again.stdout
