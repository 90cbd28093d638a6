"""The secret-leak audit: a recognisable token, every feature driven, and the token found
nowhere but in the Authorization headers of requests to the Space's own host.

Places searched: errors (str/repr), answers and their metadata, stream chunks, logs at DEBUG
from every logger, LangChain callbacks, tracing params, identifying params, ``dumpd``/``dumps``,
LlamaIndex ``to_dict``/``repr``/``raw``, the CLI's output with ``--debug``, reprs of configs,
settings and clients, and what the Space received on the wire.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps

from langchain_hf_spaces import (
    ChatHuggingFaceSpace,
    HFSpacesError,
    HuggingFaceSpaceLLM,
    SpaceClient,
    SpaceConfig,
    SpacesClient,
    SpacesSettings,
)
from langchain_hf_spaces.testing import Fault, LocalSpace
from tests.conftest import PLANTED_TOKEN

AUTH_HEADERS = {"authorization", "x-hf-authorization"}
FAST: dict[str, Any] = {"retry_initial_delay": 0.01, "retry_max_delay": 0.02, "max_retries": 1}


class Everything(BaseCallbackHandler):
    """A LangChain callback handler that keeps the repr of every event it sees."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("on_"):
            return lambda *a, **k: object.__getattribute__(self, "seen").append(repr((name, a, k)))
        return object.__getattribute__(self, name)


@pytest.fixture
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="secret", token=PLANTED_TOKEN) as s:
        yield s


@pytest.fixture
def logs() -> Iterator[list[str]]:
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(self.format(record) + repr(record.args))

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    old = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    yield seen
    root.removeHandler(handler)
    root.setLevel(old)


def _catch(fn: Any, *args: Any, **kwargs: Any) -> str:
    try:
        out = fn(*args, **kwargs)
        if hasattr(out, "__iter__") and not isinstance(out, (str, dict, list)):
            out = list(out)
        return repr(out)
    except HFSpacesError as exc:
        return f"{exc!s} {exc!r} {exc.hint} {exc.args!r} {vars(exc)!r}"


def test_the_token_goes_only_to_the_space(space: LocalSpace, logs: list[str]) -> None:
    seen: list[str] = []
    for protocol in ("generate", "tgi", "openai", "auto"):
        cfg = SpaceConfig(url=space.url, token=PLANTED_TOKEN, protocol=protocol, **FAST)
        client = SpaceClient(cfg, tier="user")
        seen += [repr(cfg), str(cfg), repr(client), repr(cfg.model_dump())]
        seen.append(_catch(client.complete, "Hello", max_new_tokens=4))
        seen.append(_catch(client.stream_chunks, "Hello", max_new_tokens=4))
        seen.append(repr(client.test_connection()))
        seen.append(_catch(lambda c=client: asyncio.run(c.acomplete("Hi", max_new_tokens=3))))
        # errors: retried 5xx, rate limits, a cut stream, a bad answer
        space.inject(Fault.server_error(500), times=2)
        seen.append(_catch(client.generate, "Hello"))
        space.inject(Fault.rate_limited(retry_after="0"), times=2)
        seen.append(_catch(client.generate, "Hello"))
        space.inject(Fault.stream_cut(after_events=1))
        seen.append(_catch(client.stream, "Hello there you", max_new_tokens=6))
        space.inject(Fault.malformed_json())
        seen.append(_catch(client.generate, "Hello"))
    chat = SpaceClient(SpaceConfig(url=space.url, token=PLANTED_TOKEN, protocol="openai"))
    seen.append(_catch(chat.chat, [{"role": "user", "content": "hi"}], max_new_tokens=3))
    wrong = SpaceClient(SpaceConfig(url=space.url, token="hf_wrongWRONGwrong123", **FAST))
    seen.append(_catch(wrong.generate, "Hi"))
    # a redirect to another host: the token must not follow it
    client = SpaceClient(SpaceConfig(url=space.url, token=PLANTED_TOKEN, **FAST))
    space.inject(Fault.redirect(space.url_for_host("localhost") + "/api/generate"))
    seen.append(_catch(client.generate, "Hi"))
    settings = SpacesSettings(tiers={"base": SpaceConfig(url=space.url, token=PLANTED_TOKEN)})
    seen += [repr(settings), str(settings.to_toml_dict()), repr(SpacesClient(settings))]
    seen += logs

    text = "\n".join(seen)
    assert PLANTED_TOKEN not in text
    assert "Demo answer from secret" in text  # the features really ran

    own_host = space.url.split("//")[1]
    for request in space.requests:
        host = request.headers.get("host", "")
        for name, value in request.headers.items():
            if PLANTED_TOKEN in value:
                assert name in AUTH_HEADERS and host == own_host, (name, host)
        assert PLANTED_TOKEN.encode() not in request.body
        assert PLANTED_TOKEN not in request.query
    assert any(r.headers.get("host", "").startswith("localhost") for r in space.requests)
    # the audit saw what it claims to: authorised requests, and DEBUG logs of the traffic
    assert any(r.headers.get("authorization") == f"Bearer {PLANTED_TOKEN}" for r in space.requests)
    assert any("HTTP Request" in line for line in logs)
    assert any("waking" in line or "retry" in line for line in logs)


def test_langchain_never_shows_the_token(space: LocalSpace, logs: list[str]) -> None:
    handler = Everything()
    llm = HuggingFaceSpaceLLM(
        space=SpaceConfig(url=space.url, token=PLANTED_TOKEN), max_new_tokens=4
    )
    chat = ChatHuggingFaceSpace(
        space=SpaceConfig(url=space.url, token=PLANTED_TOKEN, protocol="openai")
    )
    seen = [
        repr(llm),
        str(llm),
        repr(llm._identifying_params),
        repr(llm._get_ls_params()),
        repr(dumpd(llm)),
        dumps(llm),
        repr(chat),
        repr(chat._get_ls_params()),
        dumps(chat),
        repr(llm.invoke("Hello", config={"callbacks": [handler]})),
        repr(list(llm.stream("Hello", config={"callbacks": [handler]}))),
        repr(chat.invoke("Hello", config={"callbacks": [handler]})),
        repr(asyncio.run(llm.abatch(["a", "b"], config={"callbacks": [handler]}))),
    ]
    space.inject(Fault.server_error(500), times=None)
    seen.append(repr(llm.batch(["x"], return_exceptions=True, config={"callbacks": [handler]})))
    space.clear_faults()
    text = "\n".join(seen + handler.seen + logs)
    assert handler.seen and "on_llm_start" in text
    assert PLANTED_TOKEN not in text


def test_llama_index_never_shows_the_token(space: LocalSpace, logs: list[str]) -> None:
    from llama_index_hf_spaces import HuggingFaceSpaceLLM as LlamaLLM

    llm = LlamaLLM(space=SpaceConfig(url=space.url, token=PLANTED_TOKEN), max_new_tokens=4)
    answer = llm.complete("Hello")
    seen = [repr(llm), repr(llm.to_dict()), llm.to_json(), repr(llm.metadata), repr(answer)]
    seen += [repr(answer.raw), repr(answer.additional_kwargs)]
    assert PLANTED_TOKEN not in "\n".join(seen + logs)
    assert "Demo answer from secret" in answer.text


def test_cli_never_prints_the_token(space: LocalSpace) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_SPACES_", "HF_TOKEN"))}
    env.update({"HF_SPACES_BASE_URL": space.url, "HF_SPACES_BASE_TOKEN": PLANTED_TOKEN})
    outputs = []
    for args in (
        ["--debug", "generate", "Hello", "--max-new-tokens", "4"],
        ["--debug", "doctor"],
        ["--debug", "generate", "Hello", "--stream"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "langchain_hf_spaces", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        outputs.append(done.stdout + done.stderr)
    env["HF_SPACES_BASE_ENDPOINT"] = "/nowhere"
    done = subprocess.run(
        [sys.executable, "-m", "langchain_hf_spaces", "--debug", "generate", "Hello"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    outputs.append(done.stdout + done.stderr)
    assert done.returncode != 0 and "Traceback" in outputs[-1]  # --debug really showed internals
    assert "Demo answer from" in outputs[0]
    assert PLANTED_TOKEN not in "\n".join(outputs)


# --------------------------------------------------------------- a token where a name goes (#11)
NOT_NAMES = [PLANTED_TOKEN, f" {PLANTED_TOKEN}\n", "hf-pasted token 123", "api_org_ABCDEF123456789"]


@pytest.mark.parametrize("pasted", NOT_NAMES)
def test_a_token_given_as_token_env_is_refused_unseen(pasted: str) -> None:
    from langchain_hf_spaces import SpaceConfigError

    with pytest.raises(SpaceConfigError, match="name of an environment variable") as caught:
        SpaceConfig(url="https://acme-llm.hf.space", token_env=pasted)
    shown = str(caught.value) + repr(caught.value) + str(caught.value.hint)
    assert pasted.strip() not in shown
    ok = SpaceConfig(url="https://acme-llm.hf.space", token_env="ACME_TOKEN")  # names still work
    assert "ACME_TOKEN" in repr(ok)


def test_a_token_given_as_token_env_in_the_file_or_the_environment_is_refused_unseen(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_hf_spaces import SpaceConfigError

    path = tmp_path / "hf-spaces.toml"
    path.write_text(
        f'version = 1\n[tiers.base]\nurl = "https://a-b.hf.space"\ntoken_env = "{PLANTED_TOKEN}"\n'
    )
    with pytest.raises(SpaceConfigError, match="not the token itself") as from_file:
        SpacesSettings.load(path)
    monkeypatch.setenv("HF_SPACES_BASE_URL", "https://a-b.hf.space")
    monkeypatch.setenv("HF_SPACES_BASE_TOKEN_ENV", PLANTED_TOKEN)
    with pytest.raises(SpaceConfigError, match="not the token itself") as from_env:
        SpacesSettings.from_env()
    for caught in (from_file, from_env):
        assert PLANTED_TOKEN not in str(caught.value) + repr(caught.value)


def test_init_never_prints_nor_writes_a_token_given_as_token_env(tmp_path: Any) -> None:
    from tests.test_cli import run

    args = ["init", "--non-interactive", "--url", "https://acme-llm.hf.space"]
    done = run(*args, "--token-env", PLANTED_TOKEN, cwd=tmp_path)
    assert done.returncode == 2 and "not the token itself" in done.stderr
    assert PLANTED_TOKEN not in done.stdout + done.stderr
    assert not (tmp_path / "hf-spaces.toml").exists()
    asked = run("init", cwd=tmp_path, stdin="\n".join(["base", "acme/llm", "", "", PLANTED_TOKEN]))
    assert PLANTED_TOKEN not in asked.stdout + asked.stderr
    assert "not the token itself" in asked.stderr
    written = tmp_path / "hf-spaces.toml"
    assert not written.exists() or PLANTED_TOKEN not in written.read_text()


def test_a_redirect_that_echoes_the_token_is_refused_and_reported_without_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tests.support.hostile import HostileServer, response

    caplog.set_level(logging.DEBUG)
    moved = response("302 Found", location=f"/next?t={PLANTED_TOKEN}")
    with HostileServer([moved]) as srv:
        cfg = SpaceConfig(url=srv.url, token=PLANTED_TOKEN, max_retries=0)
        with pytest.raises(HFSpacesError, match="carries the token") as caught:
            SpaceClient(cfg).generate("Hello")
        report = SpaceClient(cfg).test_connection()
        sent = b"".join(srv.requests)
    assert "t=***" in str(caught.value) and not report.ok and report.hint
    ours = [r.getMessage() for r in caplog.records if r.name.startswith(("langchain", "httpx"))]
    assert PLANTED_TOKEN not in str(caught.value) + repr(report) + "\n".join(ours)
    assert sent.count(PLANTED_TOKEN.encode()) == 2  # only the two requests' own headers
