"""The generation options of ``hf-spaces generate`` / ``batch``, and the command's entry points.

The options are built from the one definition of the parameters (``_params``), so these tests
walk ``GENERATION_PARAMETERS`` instead of listing options by hand. They call
:func:`langchain_hf_spaces.cli.main` in-process against a LocalSpace.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from langchain_hf_spaces._params import GENERATION_PARAMETERS, GenerationParameters
from langchain_hf_spaces.cli import build_parser, main
from langchain_hf_spaces.testing import LocalSpace


@pytest.fixture(scope="module")
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="base") as s:
        yield s


@pytest.fixture
def settings(tmp_path: Path, space: LocalSpace, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith(("HF_SPACES_", "HF_TOKEN")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "hf-spaces.toml"
    path.write_text(f'version = 1\n\n[tiers.base]\nurl = "{space.url}"\n', encoding="utf-8")
    return path


def _subparser(command: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found: argparse.ArgumentParser = sub.choices[command]
    return found


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _accepts(name: str, value: object) -> bool:
    try:
        GenerationParameters.model_validate({name: value})
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("command", ["generate", "batch"])
def test_there_is_one_option_per_generation_parameter(command: str) -> None:
    parser = _subparser(command)
    dests = {a.dest for a in parser._actions}
    assert set(GENERATION_PARAMETERS) <= dests
    for name in GENERATION_PARAMETERS:
        action = next(a for a in parser._actions if a.dest == name)
        assert _flag(name) in action.option_strings
        assert action.help  # described, from the parameter's definition


@pytest.mark.parametrize("name", GENERATION_PARAMETERS)
def test_each_option_parses_the_type_the_model_wants(name: str) -> None:
    """An option accepts exactly what the model's (strict) type accepts."""
    parser = build_parser()
    args = parser.parse_args(["generate", "x"])
    assert getattr(args, name) is None  # not given: the Space's default
    if _accepts(name, True) and not _accepts(name, 1):  # a bool field
        assert getattr(parser.parse_args(["generate", "x", _flag(name)]), name) is True
        no = parser.parse_args(["generate", "x", "--no-" + _flag(name)[2:]])
        assert getattr(no, name) is False
        return
    try:
        value = getattr(parser.parse_args(["generate", "x", _flag(name), "0.5"]), name)
    except SystemExit:  # argparse refused 0.5: the field must be an integer
        assert not _accepts(name, 0.5)
        assert getattr(parser.parse_args(["generate", "x", _flag(name), "3"]), name) == 3
    else:
        assert value == 0.5 and _accepts(name, 0.5)


def test_do_sample_and_the_other_options_reach_the_space(
    settings: Path, space: LocalSpace, capsys: pytest.CaptureFixture[str]
) -> None:
    space.clear_requests()
    argv = ["generate", "Hi", "--do-sample", "--top-k", "5", "--temperature", "0.7"]
    assert main(argv) == 0
    sent = space.last_request
    assert sent is not None
    assert sent.json["parameters"]["do_sample"] is True
    assert sent.json["parameters"]["top_k"] == 5
    assert sent.json["parameters"]["temperature"] == 0.7
    assert capsys.readouterr().out.startswith("Demo answer from base")


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--top-p", "2"], "parameter top_p=2.0 is invalid: it must be a number in (0, 1]."),
        (["--seed", "-1"], "parameter seed=-1 is invalid: it must be an integer >= 0."),
        (["--temperature", "nan"], "parameter temperature=nan is invalid: it must be a number"),
    ],
)
def test_a_bad_value_is_one_line_naming_tier_and_space(
    settings: Path,
    space: LocalSpace,
    capsys: pytest.CaptureFixture[str],
    option: list[str],
    message: str,
) -> None:
    space.clear_requests()
    assert main(["generate", "Hi", *option]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1  # one line: no hint, no traceback
    assert err.startswith(f"error: [tier 'base', Space {space.url}] {message}")

    prompts = settings.parent / "prompts.txt"
    prompts.write_text("one\ntwo\n", encoding="utf-8")
    assert main(["batch", "prompts.txt", *option]) == 2  # before anything is sent or written
    assert capsys.readouterr().err == err
    assert space.requests == []
    assert not (settings.parent / "prompts.results.jsonl").exists()


@pytest.mark.parametrize("module", ["langchain_hf_spaces", "langchain_hf_spaces.cli"])
def test_python_dash_m_runs_the_command(module: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", module, "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("hf-spaces ")
