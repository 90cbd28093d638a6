"""The Space template (``docs/space-template/``) runs, and the client speaks every protocol to it.

The template app is started for real (uvicorn on 127.0.0.1, demo backend) and
:class:`~langchain_hf_spaces.SpaceClient` talks to it with ``protocol`` = ``generate``, ``tgi``,
``openai``, ``gradio`` and ``auto``. The demo backend is a copy of
:func:`langchain_hf_spaces.testing.demo_responder`, so expected answers are computed with the
package's own responder: a drift between the copy and the original fails here.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_hf_spaces import (
    SpaceAuthError,
    SpaceClient,
    SpaceConfig,
    SpaceResponseError,
)
from langchain_hf_spaces.testing import demo_responder

TEMPLATE = Path(__file__).resolve().parent.parent / "docs" / "space-template"
sys.path.insert(0, str(TEMPLATE))

from space_app import config as space_config  # noqa: E402
from space_app.backends import render_chat  # noqa: E402
from space_app.config import Settings, SettingsError  # noqa: E402
from space_app.demo import demo_responder as template_demo_responder  # noqa: E402
from space_app.generation import StopScanner  # noqa: E402
from space_app.security import COOKIE_NAME  # noqa: E402
from space_app.server import create_app  # noqa: E402

pytestmark = [
    pytest.mark.live,
    # Gradio's queue analytics use pandas APIs that pandas 3 deprecates; not this code's doing.
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

NAME = "template-test"
TOKEN = "space-secret-0123456789"
MAX_PROMPT_CHARS = 2000
CAP = 64
PROTOCOLS = ("generate", "tgi", "openai", "gradio", "auto")
STREAMING = ("tgi", "openai", "gradio", "auto")
PROMPT = "Write a slogan for an eco-friendly water bottle"
ALLOWED_ORIGIN = "https://app.example"


def base_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "backend": "demo",
        "space_name": NAME,
        "demo_token_delay": 0.0,
        "max_prompt_chars": MAX_PROMPT_CHARS,
        "max_new_tokens_cap": CAP,
        "default_max_new_tokens": 48,
    }
    values.update(overrides)
    return Settings(**values)


class Served:
    """The template app under uvicorn, on a free loopback port, in a background thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        self._sock = sock
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(
            self.app, log_level="warning", log_config=None, access_log=False, lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[sock])),
            name=f"space-template:{self.url}",
            daemon=True,
        )

    def start(self) -> Served:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            assert self._thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()

    def client(self, protocol: str, token: str | None = None, **kwargs: Any) -> SpaceClient:
        config = SpaceConfig(url=self.url, protocol=protocol, token=token, max_retries=0, **kwargs)
        return SpaceClient(config, tier="base")


@pytest.fixture(autouse=True)
def _no_ambient_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)


@pytest.fixture(scope="module")
def open_space() -> Iterator[Served]:
    served = Served(base_settings()).start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def private_space() -> Iterator[Served]:
    served = Served(base_settings(api_token=TOKEN)).start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def api_space() -> Iterator[Served]:
    """No UI, prompts logged, one CORS origin allowed."""
    served = Served(
        base_settings(enable_ui=False, log_prompts=True, cors_origins=(ALLOWED_ORIGIN,))
    ).start()
    yield served
    served.stop()


def expected(prompt: str, max_new_tokens: int, seed: int | None = None) -> str:
    """What the demo backend answers, by the package's own responder."""
    return demo_responder(prompt, {"max_new_tokens": max_new_tokens, "seed": seed}, name=NAME)


def expected_for(protocol: str, prompt: str, max_new_tokens: int, seed: int | None = None) -> str:
    if protocol == "openai":  # a plain prompt goes as one user message
        prompt = render_chat([{"role": "user", "content": prompt}])
    return expected(prompt, max_new_tokens, seed)


def seed_for(protocol: str) -> dict[str, Any]:
    # The template's Gradio API takes (prompt, max_new_tokens, temperature): no seed.
    return {} if protocol in ("gradio", "auto") else {"seed": 7}


# ------------------------------------------------------------------------------ the demo


@pytest.mark.parametrize(
    ("prompt", "parameters"),
    [
        ("Hello", {}),
        ("Hello", {"seed": 3}),
        ("Write a haiku about tea", {"seed": 11, "max_new_tokens": 6}),
        ("", {"max_new_tokens": 0}),
        ("ünïcødé ✓", {"seed": None, "max_new_tokens": 200}),
    ],
)
def test_demo_copy_answers_like_the_package_responder(
    prompt: str, parameters: dict[str, Any]
) -> None:
    assert template_demo_responder(prompt, parameters, name=NAME) == demo_responder(
        prompt, parameters, name=NAME
    )


# ------------------------------------------------------------------- every protocol works


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_complete_on_each_protocol(open_space: Served, protocol: str) -> None:
    with open_space.client(protocol) as client:
        answer = client.complete(PROMPT, max_new_tokens=40, **seed_for(protocol))
    want = expected_for(protocol, PROMPT, 40, seed_for(protocol).get("seed"))
    assert answer.text == want
    assert answer.protocol == ("gradio" if protocol == "auto" else protocol)
    if protocol == "tgi":
        assert answer.finish_reason == "eos_token"
        assert answer.completion_tokens == len(want.split())
    if protocol == "openai":
        assert answer.finish_reason == "stop"
        assert answer.completion_tokens == len(want.split())
        rendered = render_chat([{"role": "user", "content": PROMPT}])
        assert answer.prompt_tokens == len(rendered.split())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_stream_on_each_protocol(open_space: Served, protocol: str) -> None:
    with open_space.client(protocol) as client:
        chunks = list(client.stream_chunks(PROMPT, max_new_tokens=40, **seed_for(protocol)))
    texts = [c.text for c in chunks if c.text]
    want = expected_for(protocol, PROMPT, 40, seed_for(protocol).get("seed"))
    assert "".join(texts) == want
    final = chunks[-1].answer
    assert final is not None and final.text == want
    if protocol in STREAMING:
        assert len(texts) == len(want.split()) > 1  # token by token
    else:
        assert len(texts) == 1  # the guide's format has no stream: the whole answer once


@pytest.mark.parametrize("protocol", ["tgi", "openai"])
def test_length_limit_is_reported(open_space: Served, protocol: str) -> None:
    with open_space.client(protocol) as client:
        answer = client.complete(PROMPT, max_new_tokens=5, seed=1)
    assert answer.text == expected_for(protocol, PROMPT, 5, seed=1)
    assert len(answer.text.split()) == 5
    assert answer.finish_reason == "length"


@pytest.mark.parametrize("protocol", ["tgi", "openai"])
@pytest.mark.parametrize("streamed", [False, True])
def test_stop_sequence_cuts_the_answer(open_space: Served, protocol: str, streamed: bool) -> None:
    full = expected_for(protocol, PROMPT, 40, seed=2)
    stop = " " + full.split()[6]  # a word in the middle of the answer
    with open_space.client(protocol) as client:
        if streamed:
            chunks = list(client.stream_chunks(PROMPT, max_new_tokens=40, seed=2, stop=[stop]))
            text = "".join(c.text for c in chunks)
            answer = chunks[-1].answer
            assert answer is not None
        else:
            answer = client.complete(PROMPT, max_new_tokens=40, seed=2, stop=[stop])
            text = answer.text
    assert text == full[: full.index(stop)]
    assert answer.finish_reason == ("stop_sequence" if protocol == "tgi" else "stop")


def test_openai_chat_and_chat_stream(open_space: Served) -> None:
    messages = [
        {"role": "system", "content": "You write slogans."},
        {"role": "user", "content": "One for a bakery."},
    ]
    want = expected(render_chat(messages), 30)
    with open_space.client("openai") as client:
        assert client.is_chat_native
        answer = client.chat(messages, max_new_tokens=30)
        chunks = list(client.chat_stream_chunks(messages, max_new_tokens=30))
    assert answer.text == want
    assert answer.prompt_tokens == len(render_chat(messages).split())
    assert answer.completion_tokens == len(want.split())
    texts = [c.text for c in chunks if c.text]
    assert "".join(texts) == want and len(texts) > 1
    final = chunks[-1].answer
    assert final is not None and final.completion_tokens == len(want.split())


def test_auto_finds_tgi_when_the_ui_is_off(api_space: Served) -> None:
    with api_space.client("auto") as client:
        answer = client.complete(PROMPT, max_new_tokens=12)
        assert client.protocol == "tgi"
    assert answer.text == expected(PROMPT, 12)


def test_tgi_stream_sends_one_token_per_event(open_space: Served) -> None:
    body = {"inputs": PROMPT, "parameters": {"max_new_tokens": 20, "seed": 4}}
    with httpx.stream("POST", open_space.url + "/generate_stream", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    events = [json.loads(line[5:]) for line in raw.splitlines() if line.startswith("data:")]
    want = expected(PROMPT, 20, seed=4)
    assert [e["token"]["text"] for e in events] == [w + " " for w in want.split()[:-1]] + [
        want.split()[-1]
    ]
    assert all(e["generated_text"] is None for e in events[:-1])
    assert events[-1]["generated_text"] == want
    assert events[-1]["details"]["generated_tokens"] == len(want.split())


# ------------------------------------------------------------------------------------ auth


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_api_token_is_required_and_checked(private_space: Served, protocol: str) -> None:
    for token in (None, "wrong-token"):
        with private_space.client(protocol, token=token) as client, pytest.raises(SpaceAuthError):
            client.complete(PROMPT, max_new_tokens=10)
    with private_space.client(protocol, token=TOKEN) as client:
        answer = client.complete(PROMPT, max_new_tokens=10)
    assert answer.text == expected_for(protocol, PROMPT, 10)


def test_auth_headers_and_error_bodies(private_space: Served) -> None:
    url = private_space.url
    body = {"inputs": "Hi", "parameters": {"max_new_tokens": 3}}
    ok = httpx.post(url + "/generate", json=body, headers={"x-hf-authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json()["generated_text"] == expected("Hi", 3)
    basic = httpx.post(url + "/generate", json=body, headers={"authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401 and basic.headers["www-authenticate"] == "Bearer"
    assert basic.json()["error_type"] == "authentication"
    chat = httpx.post(url + "/v1/chat/completions", json={"messages": []})
    assert chat.status_code == 401 and "API_TOKEN" in chat.json()["error"]["message"]
    assert httpx.get(url + "/health").status_code == 200  # public, for uptime checks
    assert TOKEN not in basic.text + chat.text


def test_browser_login_sets_a_cookie_that_opens_the_ui(private_space: Served) -> None:
    with httpx.Client(base_url=private_space.url) as browser:
        page = browser.get("/", headers={"accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"] == "/login"
        wrong = browser.post("/login", data={"token": "nope"})
        assert wrong.status_code == 401 and COOKIE_NAME not in browser.cookies
        right = browser.post("/login", data={"token": TOKEN})
        assert right.status_code == 303
        session = browser.cookies[COOKIE_NAME]
        assert TOKEN not in session
        assert (
            "text/html" in browser.get("/", headers={"accept": "text/html"}).headers["content-type"]
        )
        assert "/predict" in browser.get("/gradio_api/info").json()["named_endpoints"]
        browser.get("/logout")
        assert browser.get("/gradio_api/info").status_code == 401


# ----------------------------------------------------------------------------- limits


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("streamed", [False, True])
def test_prompt_over_the_limit_is_a_413(open_space: Served, protocol: str, streamed: bool) -> None:
    prompt = "x" * (MAX_PROMPT_CHARS + 1)
    with open_space.client(protocol) as client, pytest.raises(SpaceResponseError) as caught:
        if streamed:
            list(client.stream(prompt, max_new_tokens=10))
        else:
            client.complete(prompt, max_new_tokens=10)
    assert caught.value.status_code == 413
    assert "MAX_PROMPT_CHARS" in str(caught.value)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_max_new_tokens_over_the_cap_is_a_422(open_space: Served, protocol: str) -> None:
    with open_space.client(protocol) as client, pytest.raises(SpaceResponseError) as caught:
        client.complete(PROMPT, max_new_tokens=CAP + 1)
    assert caught.value.status_code == 422
    assert "MAX_NEW_TOKENS_CAP" in str(caught.value)


def test_error_bodies_speak_each_routes_dialect(open_space: Served) -> None:
    url = open_space.url
    long = {"inputs": "x" * (MAX_PROMPT_CHARS + 1)}
    guide = httpx.post(url + "/api/generate", json=long)
    assert guide.status_code == 413 and set(guide.json()) == {"error"}
    tgi = httpx.post(url + "/generate", json={"inputs": "Hi", "parameters": {"best_of": 2}})
    assert tgi.status_code == 422
    assert tgi.json()["error_type"] == "validation" and "best_of" in tgi.json()["error"]
    chat = httpx.post(
        url + "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "Hi"}], "tools": [{"type": "function"}]},
    )
    assert chat.status_code == 422 and "tool" in chat.json()["error"]["message"]
    huge = httpx.post(url + "/generate", content=b"x" * (open_space.settings.max_body_bytes + 1))
    assert huge.status_code == 413


# ------------------------------------------------------------------------ CORS and logs


def test_cors_origins_are_the_only_policy(api_space: Served, open_space: Served) -> None:
    preflight = {"access-control-request-method": "POST"}
    allowed = httpx.options(
        api_space.url + "/generate", headers={"origin": ALLOWED_ORIGIN, **preflight}
    )
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    other = httpx.options(
        api_space.url + "/generate", headers={"origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in other.headers
    # Without CORS_ORIGINS no origin is allowed, not even the localhost ones Gradio would allow.
    info = httpx.get(open_space.url + "/gradio_api/info", headers={"origin": "http://localhost:3"})
    assert info.status_code == 200 and "access-control-allow-origin" not in info.headers


def _wait_for_log(caplog: pytest.LogCaptureFixture, text: str) -> None:
    deadline = time.monotonic() + 5
    while not any(text in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, f"no log line with {text!r}"
        time.sleep(0.01)


@pytest.mark.parametrize("log_prompts", [False, True])
def test_prompts_are_logged_only_when_asked(
    open_space: Served, api_space: Served, caplog: pytest.LogCaptureFixture, log_prompts: bool
) -> None:
    served = api_space if log_prompts else open_space
    prompt = f"a distinctive prompt {log_prompts} zebra"
    caplog.set_level(logging.INFO, logger="space_app")
    response = httpx.post(served.url + "/generate", json={"inputs": prompt})
    assert response.status_code == 200
    _wait_for_log(caplog, "POST /generate -> 200")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert (prompt in logged) is log_prompts
    assert (response.json()["generated_text"] in logged) is log_prompts


# ------------------------------------------------------------------- settings and files


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(space_config, "_has_transformers", lambda: False)
    assert Settings.from_env({}).backend == "demo"
    with pytest.raises(SettingsError, match="BACKEND=transformers"):
        Settings.from_env({"BACKEND": "transformers"})
    with pytest.raises(SettingsError, match="MAX_PROMPT_CHARS"):
        Settings.from_env({"MAX_PROMPT_CHARS": "lots"})
    with pytest.raises(SettingsError, match="DEFAULT_MAX_NEW_TOKENS"):
        Settings.from_env({"MAX_NEW_TOKENS_CAP": "10", "DEFAULT_MAX_NEW_TOKENS": "20"})
    with pytest.raises(SettingsError, match="LOG_PROMPTS"):
        Settings.from_env({"LOG_PROMPTS": "maybe"})
    s = Settings.from_env(
        {
            "CORS_ORIGINS": "https://a.example/, https://b.example",
            "SPACE_REPO_NAME": "my-llm",
            "API_TOKEN": "s3cret-value",
            "LOG_PROMPTS": "1",
        }
    )
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert s.space_name == "my-llm" and s.log_prompts and s.api_token == "s3cret-value"
    assert Settings.from_env({"SPACE_ID": "acme/llm-space"}).space_name == "llm-space"
    assert "s3cret-value" not in repr(s)


def test_space_files_agree(tmp_path: Path) -> None:
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("---\n")
    front = yaml.safe_load(readme.split("---\n")[1])
    assert front["sdk"] == "docker"
    assert front["app_port"] == Settings().port == 7860
    dockerfile = (TEMPLATE / "Dockerfile").read_text(encoding="utf-8")
    assert f"EXPOSE {front['app_port']}" in dockerfile
    assert 'CMD ["python", "app.py"]' in dockerfile
    requirements = (TEMPLATE / "requirements.txt").read_text(encoding="utf-8").lower()
    for package in ("fastapi", "uvicorn", "gradio", "transformers"):
        assert package in requirements
    spec = importlib.util.spec_from_file_location("space_template_entry", TEMPLATE / "app.py")
    assert spec is not None and spec.loader is not None
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)
    assert entry.create_app is create_app


# ---------------------------------------------------------------------- stop sequences


def test_stop_scanner_finds_a_stop_split_across_pieces() -> None:
    scanner = StopScanner(("o w",))
    out = [scanner.feed(p) for p in ("Hel", "lo", " wo", "rld")]
    assert "".join(out) + scanner.flush() == "Hell"
    assert scanner.stopped
    plain = StopScanner(("zzz",))
    assert [plain.feed(p) for p in ("Hello ", "world")] == ["Hello ", "world"]


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet="ab c", max_size=40),
    stops=st.lists(st.text(alphabet="ab c", min_size=1, max_size=4), max_size=3),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=8),
)
def test_stop_scanner_never_leaks_a_stop(text: str, stops: list[str], cuts: list[int]) -> None:
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    scanner = StopScanner(tuple(stops))
    out = "".join(scanner.feed(text[a:b]) for a, b in itertools.pairwise(bounds))
    out += scanner.flush()
    assert text.startswith(out)
    assert not any(s in out for s in stops)
    if scanner.stopped:
        assert any(text[len(out) :].startswith(s) for s in stops)
    else:
        assert out == text
