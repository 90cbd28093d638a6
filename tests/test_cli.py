"""The ``hf-spaces`` command, driven as a user drives it: a real subprocess against LocalSpaces.

Every test runs ``python -m langchain_hf_spaces ...`` (what the ``hf-spaces`` script runs) in a
temporary directory, with an environment free of ``HF_TOKEN`` and ``HF_SPACES_*``. The Spaces
are started once for the module.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from langchain_hf_spaces import SpacesSettings
from langchain_hf_spaces.testing import LocalSpace, ResponderError

TOKEN = "hf_CLIplantedToken0123456789abcdef"
"""The private Space's token: no test output may ever contain it."""
WRONG_TOKEN = "hf_CLIwrongToken9876543210fedcba"


class _FlakyOnce:
    """Answers every prompt, except that a prompt containing "flaky" fails (422) the first time."""

    def __init__(self) -> None:
        self.failed: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, prompt: str, parameters: dict[str, Any]) -> str:
        with self.lock:
            if "flaky" in prompt and prompt not in self.failed:
                self.failed.add(prompt)
                raise ResponderError("the model tripped over this one", status=422)
        return f"answer to: {prompt}"


def _structured(prompt: str, parameters: dict[str, Any]) -> str:
    return '{"title": "Sprout", "pros": ["waters itself", "small"]}'


@pytest.fixture(scope="module")
def spaces() -> Iterator[dict[str, LocalSpace]]:
    with (
        LocalSpace(name="base") as base,
        LocalSpace(name="company") as company,
        LocalSpace(name="user", token=TOKEN) as user,
        LocalSpace(name="sleepy") as sleepy,
        LocalSpace(name="batch", responder=_FlakyOnce()) as batch,
        LocalSpace(name="structured", responder=_structured) as structured,
    ):
        yield {
            "base": base,
            "company": company,
            "user": user,
            "sleepy": sleepy,
            "batch": batch,
            "structured": structured,
        }


def run(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HF_SPACES_", "HF_TOKEN"))}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "langchain_hf_spaces", *args],
        cwd=cwd,
        env=clean,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write_settings(path: Path, tiers: Mapping[str, Mapping[str, Any]], default: str) -> Path:
    """A settings file as a user would write it by hand."""
    lines = ["version = 1", "enabled = true", f'default_tier = "{default}"']
    for tier, fields in tiers.items():
        lines.append(f"\n[tiers.{tier}]")
        for key, value in fields.items():
            lines.append(f"{key} = {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    """No traceback and no token anywhere in what the user sees."""
    seen = result.stdout + result.stderr
    assert "Traceback" not in seen
    assert TOKEN not in seen
    assert WRONG_TOKEN not in seen


# ---------------------------------------------------------------------------- init


def test_init_non_interactive_is_idempotent_and_refuses_to_overwrite(
    tmp_path: Path, spaces: dict[str, LocalSpace]
) -> None:
    base, user = spaces["base"].url, spaces["user"].url
    flags = [
        "init",
        "--non-interactive",
        "--url",
        base,
        "--url",
        f"user={user}",
        "--token-env",
        "user=USER_TOKEN",
        "--protocol",
        "user=auto",
        "--revision",
        "base=v2",
    ]
    first = run(*flags, cwd=tmp_path, env={"USER_TOKEN": TOKEN})
    assert first.returncode == 0, first.stderr
    path = tmp_path / "hf-spaces.toml"
    settings = SpacesSettings.from_toml(path)
    assert settings.default_tier == "base"
    assert settings.tiers["base"].url == base and settings.tiers["base"].revision == "v2"
    assert settings.tiers["user"].token_env == "USER_TOKEN"
    assert settings.tiers["user"].protocol == "auto"
    assert settings.tiers["user"].token is None
    assert TOKEN not in path.read_text(encoding="utf-8")
    assert "$USER_TOKEN" in first.stdout

    written = path.read_text(encoding="utf-8")
    again = run(*flags, cwd=tmp_path)
    assert again.returncode == 0 and "up to date" in again.stdout
    assert path.read_text(encoding="utf-8") == written

    other = run("init", "-y", "--url", spaces["company"].url, cwd=tmp_path)
    assert other.returncode == 2
    assert "already exists" in other.stderr and "--force" in other.stderr
    assert path.read_text(encoding="utf-8") == written
    assert_clean(other)

    forced = run("init", "-y", "--force", "--url", spaces["company"].url, cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert list(SpacesSettings.from_toml(path).tiers) == ["base"]
    assert SpacesSettings.from_toml(path).tiers["base"].url == spaces["company"].url


def test_init_rejects_a_bad_url_in_one_line(tmp_path: Path) -> None:
    result = run("init", "-y", "--url", "ftp://example.com/x", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert "not an http(s) URL" in result.stderr and "hint: " in result.stderr
    assert not (tmp_path / "hf-spaces.toml").exists()
    assert_clean(result)


def test_init_interactive_reads_answers_from_stdin(
    tmp_path: Path, spaces: dict[str, LocalSpace]
) -> None:
    answers = [
        "base,user",  # tiers
        "not a url",  # base URL: rejected, asked again
        spaces["base"].url,
        "",  # endpoint: default
        "",  # protocol: default
        "",  # token variable: HF_TOKEN
        "",  # revision: none
        spaces["user"].url,
        "/v1/generate",
        "tgi",
        "USER_TOKEN",
        "2024-06",
        "user",  # default tier
        "n",  # enabled?
    ]
    result = run("init", cwd=tmp_path, stdin="\n".join(answers) + "\n")
    assert result.returncode == 0, result.stderr
    assert "invalid:" in result.stderr  # the bad URL was reported and asked again
    settings = SpacesSettings.from_toml(tmp_path / "hf-spaces.toml")
    assert settings.enabled is False
    assert settings.default_tier == "user"
    assert settings.tiers["base"].endpoint == "/api/generate"
    assert settings.tiers["base"].protocol == "generate"
    assert settings.tiers["base"].token_env is None
    user = settings.tiers["user"]
    assert (user.endpoint, user.protocol, user.token_env, user.revision) == (
        "/v1/generate",
        "tgi",
        "USER_TOKEN",
        "2024-06",
    )


def test_init_interactive_stops_cleanly_when_stdin_ends(tmp_path: Path) -> None:
    result = run("init", cwd=tmp_path, stdin="base\n")
    assert result.returncode == 2
    assert "stdin ended" in result.stderr and "--non-interactive" in result.stderr
    assert not (tmp_path / "hf-spaces.toml").exists()
    assert_clean(result)


def test_init_migrates_a_version_0_file_and_says_what_changed(
    tmp_path: Path, spaces: dict[str, LocalSpace]
) -> None:
    path = tmp_path / "hf-spaces.toml"
    old = f'default_tier = "base"\n\n[base]\nurl = "{spaces["base"].url}"\nrevision = "r1"\n'
    path.write_text(old, encoding="utf-8")
    result = run("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "from version 0 to 1" in result.stdout
    assert "moved [base] to [tiers.base]" in result.stdout
    assert "added version = 1" in result.stdout
    assert (tmp_path / "hf-spaces.toml.bak").read_text(encoding="utf-8") == old
    text = path.read_text(encoding="utf-8")
    assert "version = 1" in text and "[tiers.base]" in text
    settings = SpacesSettings.from_toml(path)
    assert settings.tiers["base"].revision == "r1"


def test_init_store_token_writes_mode_0600_and_never_prints_the_token(
    tmp_path: Path, spaces: dict[str, LocalSpace]
) -> None:
    flags = ["init", "-y", "--url", spaces["user"].url, "--token-env", "USER_TOKEN"]
    missing = run(*flags, "--store-token", cwd=tmp_path)
    assert missing.returncode == 2
    assert "$USER_TOKEN is not set" in missing.stderr
    assert not (tmp_path / "hf-spaces.toml").exists()

    result = run(*flags, "--store-token", cwd=tmp_path, env={"USER_TOKEN": TOKEN})
    assert result.returncode == 0, result.stderr
    path = tmp_path / "hf-spaces.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    settings = SpacesSettings.from_toml(path)
    token = settings.tiers["base"].token
    assert token is not None and token.get_secret_value() == TOKEN
    assert "0600" in result.stdout
    assert_clean(result)

    # The stored token is what doctor uses: no environment needed any more.
    doctor = run("doctor", cwd=tmp_path)
    assert doctor.returncode == 0, doctor.stdout
    assert "holds tokens; mode 0600" in doctor.stdout
    assert_clean(doctor)


# ---------------------------------------------------------------------------- doctor


def _all_tiers(spaces: dict[str, LocalSpace], tmp_path: Path) -> Path:
    return write_settings(
        tmp_path / "hf-spaces.toml",
        {
            "base": {"url": spaces["base"].url},
            "company": {"url": spaces["company"].url, "protocol": "tgi", "revision": "c-1"},
            "user": {"url": spaces["user"].url, "protocol": "auto", "token_env": "USER_TOKEN"},
        },
        default="base",
    )


def test_doctor_passes_when_every_tier_answers(
    tmp_path: Path, spaces: dict[str, LocalSpace]
) -> None:
    _all_tiers(spaces, tmp_path)
    result = run("doctor", cwd=tmp_path, env={"USER_TOKEN": TOKEN})
    assert result.returncode == 0, result.stdout
    out = result.stdout
    for name in ("settings file", "environment", "enabled", "url", "dns", "connect", "tls"):
        assert name in out
    assert "auth           token from env USER_TOKEN" in out
    assert "protocol       tgi" in out
    assert "(auto-detected)" in out  # the user tier's protocol = "auto"
    assert "All 3 tier(s) passed." in out
    summary = out.split("Summary", 1)[1]
    assert [line.split()[:2] for line in summary.strip().splitlines()[:3]] == [
        ["base", "OK"],
        ["company", "OK"],
        ["user", "OK"],
    ]
    assert_clean(result)


def test_doctor_json_and_tier_check_one_tier_for_machines(
    tmp_path: Path, spaces: dict[str, LocalSpace]
) -> None:
    _all_tiers(spaces, tmp_path)
    result = run("doctor", "--json", "--tier", "company", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert [t["tier"] for t in report["tiers"]] == ["company"]
    company = report["tiers"][0]
    assert company["url"] == spaces["company"].url and company["protocol"] == "tgi"
    assert company["latency"] > 0
    statuses = {c["name"]: c["status"] for c in company["checks"]}
    assert statuses == {
        "url": "ok",
        "dns": "ok",
        "connect": "ok",
        "tls": "skip",
        "hub": "skip",  # no Space id: the Hub is not asked
        "auth": "ok",
        "protocol": "ok",
        "generation": "ok",
    }

    unknown = run("doctor", "--tier", "nope", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "tier 'nope' is not configured" in unknown.stderr
    assert_clean(unknown)


def test_doctor_waits_for_a_sleeping_space_with_a_live_progress_line(
    tmp_path: Path, spaces: dict[str, LocalSpace]
) -> None:
    sleepy = spaces["sleepy"]
    write_settings(
        tmp_path / "hf-spaces.toml",
        {"sleepy": {"url": sleepy.url, "wake_poll_interval": 0.3, "wake_timeout": 30}},
        default="sleepy",
    )
    sleepy.clear_requests()
    sleepy.sleep_for(60)

    def wake_after_three_polls() -> None:
        deadline = time.monotonic() + 30
        while len(sleepy.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        sleepy.wake()

    waker = threading.Thread(target=wake_after_three_polls, daemon=True)
    waker.start()
    result = run("doctor", cwd=tmp_path)
    waker.join()
    assert result.returncode == 0, result.stdout + result.stderr
    waking = [ln for ln in result.stderr.splitlines() if "waking up" in ln]
    assert len(waking) >= 3  # one line per poll when stderr is not a terminal
    assert all("elapsed of wake_timeout=30s" in ln and "sleepy" in ln for ln in waking)
    assert "All 1 tier(s) passed." in result.stdout
    assert not sleepy.asleep
    assert_clean(result)


def test_doctor_fails_on_a_wrong_token_with_a_specific_hint(
    tmp_path: Path, spaces: dict[str, LocalSpace]
) -> None:
    _all_tiers(spaces, tmp_path)
    result = run("doctor", cwd=tmp_path, env={"USER_TOKEN": WRONG_TOKEN})
    assert result.returncode == 1
    out = result.stdout
    assert "FAIL  auth" in out
    summary = out.split("Summary", 1)[1]
    assert "user         FAIL" in summary and "SpaceAuthError" in summary
    assert "hint: The token from env USER_TOKEN was refused" in summary
    assert "1 of 3 tier(s) failed." in out
    assert_clean(result)

    as_json = json.loads(run("doctor", "--json", cwd=tmp_path).stdout)
    assert as_json["ok"] is False
    user = next(t for t in as_json["tiers"] if t["tier"] == "user")
    assert user["error_type"] == "SpaceAuthError"
    assert "export USER_TOKEN=" in user["hint"]  # no token at all: says how to set one


def test_doctor_reports_a_disabled_switch_and_an_unreachable_space(tmp_path: Path) -> None:
    with LocalSpace(name="gone") as gone:
        url = gone.url
    path = write_settings(tmp_path / "hf-spaces.toml", {"base": {"url": url}}, default="base")
    path.write_text(path.read_text().replace("enabled = true", "enabled = false"))
    result = run("doctor", cwd=tmp_path)
    assert result.returncode == 1
    assert "FAIL  enabled" in result.stdout and "HF_SPACES_ENABLED=true" in result.stdout
    assert "FAIL  connect" in result.stdout
    assert "skip  generation" in result.stdout
    assert_clean(result)


def test_debug_shows_the_traceback_but_never_the_token(
    tmp_path: Path, spaces: dict[str, LocalSpace]
) -> None:
    _all_tiers(spaces, tmp_path)
    ok = run("--debug", "generate", "hello", "--tier", "user", cwd=tmp_path,
             env={"USER_TOKEN": TOKEN})  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "debug: " in ok.stderr  # the debug log is on
    assert TOKEN not in ok.stdout + ok.stderr

    bad = run("generate", "hello", "--tier", "user", "--debug", cwd=tmp_path,
              env={"USER_TOKEN": WRONG_TOKEN})  # fmt: skip
    assert bad.returncode == 1
    assert "Traceback" in bad.stderr and "SpaceAuthError" in bad.stderr
    assert WRONG_TOKEN not in bad.stdout + bad.stderr

    plain = run("generate", "hello", "--tier", "user", cwd=tmp_path,
                env={"USER_TOKEN": WRONG_TOKEN})  # fmt: skip
    assert plain.returncode == 1
    lines = plain.stderr.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"error: [tier 'user', Space {spaces['user'].url}] ")
    assert "401" in lines[0]
    assert lines[1].startswith("hint: ")
    assert_clean(plain)


# ---------------------------------------------------------------------------- generate


def test_generate_with_tier_and_context(tmp_path: Path, spaces: dict[str, LocalSpace]) -> None:
    _all_tiers(spaces, tmp_path)
    company = spaces["company"]
    company.clear_requests()
    result = run(
        "generate",
        "Create a product description",
        "--tier",
        "company",
        "--context",
        "industry=healthcare",
        "--context",
        'key_features=["portable", "sterilizable"]',
        "--max-new-tokens",
        "12",
        "--seed",
        "7",
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["text"].startswith("Demo answer from company")
    assert answer["metadata"]["tier"] == "company"
    assert answer["metadata"]["revision"] == "c-1"
    sent = company.last_request
    assert sent is not None and sent.path == "/generate"
    inputs = sent.json["inputs"]
    assert '"industry": "healthcare"' in inputs
    assert '"portable"' in inputs and inputs.endswith("Create a product description")
    assert sent.json["parameters"]["max_new_tokens"] == 12
    assert sent.json["parameters"]["seed"] == 7


def test_generate_streams_and_reads_the_prompt_from_stdin(
    tmp_path: Path, spaces: dict[str, LocalSpace]
) -> None:
    _all_tiers(spaces, tmp_path)
    company = spaces["company"]
    company.clear_requests()
    streamed = run("generate", "-", "--tier", "company", "--stream", cwd=tmp_path,
                   stdin="A prompt from stdin\n")  # fmt: skip
    assert streamed.returncode == 0, streamed.stderr
    sent = company.last_request
    assert sent is not None and sent.path == "/generate_stream" and sent.stream
    assert sent.json["inputs"] == "A prompt from stdin"

    whole = run("generate", "A prompt from stdin", "--tier", "company", cwd=tmp_path)
    assert whole.returncode == 0
    assert streamed.stdout == whole.stdout  # the same answer, streamed or not
    assert streamed.stdout.startswith("Demo answer from company")

    empty = run("generate", "-", cwd=tmp_path, stdin="   \n")
    assert empty.returncode == 2 and "prompt is empty" in empty.stderr
    assert_clean(empty)


def test_generate_structured_output_and_variations(
    tmp_path: Path, spaces: dict[str, LocalSpace]
) -> None:
    write_settings(
        tmp_path / "hf-spaces.toml",
        {"base": {"url": spaces["base"].url}, "shaped": {"url": spaces["structured"].url}},
        default="base",
    )
    schema = tmp_path / "idea.json"
    schema.write_text(json.dumps({"title": "string", "pros": "string[]"}), encoding="utf-8")
    shaped = run("generate", "A garden gadget", "--tier", "shaped", "--schema", str(schema),
                 cwd=tmp_path)  # fmt: skip
    assert shaped.returncode == 0, shaped.stderr
    assert json.loads(shaped.stdout) == {"title": "Sprout", "pros": ["waters itself", "small"]}

    varied = run("generate", "A slogan", "--variations", "3", cwd=tmp_path)
    assert varied.returncode == 0, varied.stderr
    lines = varied.stdout.strip().splitlines()
    assert [ln[:3] for ln in lines] == ["1. ", "2. ", "3. "]
    assert len({ln[3:] for ln in lines}) == 3  # each with its own seed

    both = run("generate", "x", "--schema", str(schema), "--variations", "2", cwd=tmp_path)
    assert both.returncode == 2 and "cannot be combined" in both.stderr
    assert_clean(both)


# ---------------------------------------------------------------------------- batch


def test_batch_writes_jsonl_and_resumes_where_it_stopped(
    tmp_path: Path, spaces: dict[str, LocalSpace]
) -> None:
    batch = spaces["batch"]
    write_settings(tmp_path / "hf-spaces.toml", {"base": {"url": batch.url}}, default="base")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("first prompt\nsecond, flaky prompt\n\nthird prompt\n", encoding="utf-8")
    batch.clear_requests()

    first = run("batch", "prompts.txt", "--concurrency", "2", cwd=tmp_path)
    assert first.returncode == 1  # one prompt failed
    assert "[" + "#" * 30 + "] 3/3 100%  1 failed" in first.stderr
    out = tmp_path / "prompts.results.jsonl"
    records = [json.loads(ln) for ln in out.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in records] == [1, 2, 4]  # sorted by line; the blank one skipped
    assert records[0]["text"] == "answer to: first prompt" and records[0]["error"] is None
    assert records[1]["error"]["type"] == "SpaceResponseError"
    assert "422" in records[1]["error"]["message"]
    assert records[2]["metadata"]["tier"] == "base"
    assert len(batch.requests) == 3

    with prompts.open("a", encoding="utf-8") as fh:
        fh.write("fourth prompt\n")
    batch.clear_requests()
    second = run("batch", "prompts.txt", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "Resuming: 2 of 4" in second.stderr
    asked = sorted(r.json["inputs"] for r in batch.requests)
    assert asked == ["fourth prompt", "second, flaky prompt"]  # only what was missing
    records = [json.loads(ln) for ln in out.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in records] == [1, 2, 4, 5]
    assert all(r["error"] is None for r in records)
    assert records[1]["text"] == "answer to: second, flaky prompt"
    assert_clean(second)
