"""``hf-spaces serve``: the real command in a subprocess, and its refusals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from langchain_hf_spaces.cli import main
from langchain_hf_spaces.testing import LocalSpace, scripted_responder

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_SPACES_", "HF_TOKEN"))}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def test_serve_prints_the_base_url_and_serves_until_interrupted(tmp_path: Path) -> None:
    key = "gw-cli-key-42"
    with LocalSpace(responder=scripted_responder(["served by the CLI"])) as space:
        config = tmp_path / "hf-spaces.toml"
        config.write_text(f'version = 1\n[tiers.base]\nurl = "{space.url}"\n', encoding="utf-8")
        process = subprocess.Popen(
            [sys.executable, "-m", "langchain_hf_spaces", "serve", "--port", "0"],
            cwd=tmp_path,
            env=_env(HF_SPACES_CONFIG=str(config), HF_SPACES_GATEWAY_API_KEY=key),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            head = [process.stdout.readline() for _ in range(2)]
            assert head[0].startswith("OpenAI-compatible gateway")
            base_url = head[1].strip()
            assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
            sdk = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0)
            assert [m.id for m in sdk.models.list().data] == ["base"]
            reply = sdk.chat.completions.create(
                model="base", messages=[{"role": "user", "content": "hi"}]
            )
            assert reply.choices[0].message.content == "served by the CLI"
            with pytest.raises(openai.AuthenticationError):
                openai.OpenAI(base_url=base_url, api_key="nope", max_retries=0).models.list()
            sdk.close()
        finally:
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "Stopped." in out
    assert "POST /v1/chat/completions 200" in err  # one line per request on stderr
    assert key not in out + err


def test_a_public_host_without_an_api_key_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_SPACES_GATEWAY_API_KEY", raising=False)
    assert main(["serve", "--host", "0.0.0.0"]) == 2  # noqa: S104 - refused, never bound
    err = capsys.readouterr().err
    assert "not a loopback address" in err and "--allow-public" in err


def test_no_tier_configured_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["serve", "--port", "0"]) == 2
    assert "no tier is configured" in capsys.readouterr().err
