"""Hostile answers, forks and pasted tokens (issue #14, first part): live on loopback.

``tests/support/hostile.py`` is a raw-socket server that sends whatever bytes a test scripts,
so malformed or malicious HTTP can be answered; the rest runs against LocalSpace. Each test
failed before the fix it protects.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from langchain_hf_spaces import (
    SpaceClient,
    SpaceConfig,
    SpaceConfigError,
    SpaceResponseError,
    SpaceUnavailableError,
)
from langchain_hf_spaces._policy import Received, exchange, parse_retry_after
from langchain_hf_spaces.testing import LocalSpace
from tests.support.hostile import HostileServer, response
from tests.test_flow import Script

TOKEN = "hf_HOSTILEtokenABCDEFGHIJKLMNOPQ"
FAST: dict[str, Any] = {"max_retries": 0, "retry_initial_delay": 0.01, "wake_timeout": 0.5}
DEEP = b"[" * 100_000 + b"]" * 100_000


def client(url: str, **cfg: Any) -> SpaceClient:
    return SpaceClient(SpaceConfig(url=url, token=TOKEN, **{**FAST, **cfg}))


# ------------------------------------------------------------------ tokens as pasted
@pytest.fixture
def space() -> Iterator[LocalSpace]:
    with LocalSpace(token=TOKEN) as s:
        yield s


@pytest.mark.parametrize("pasted", [TOKEN + "\n", f" {TOKEN} ", TOKEN + "\r\n", TOKEN + "\x00"])
def test_a_token_with_surrounding_whitespace_is_sent_clean(space: LocalSpace, pasted: str) -> None:
    assert SpaceClient(SpaceConfig(url=space.url, token=pasted)).generate("Hello")


def test_a_token_from_the_environment_is_cleaned_too(
    space: LocalSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_TOKEN", TOKEN + "\n")
    assert SpaceClient(SpaceConfig(url=space.url, token_env="ACME_TOKEN")).generate("Hello")


@pytest.mark.parametrize("bad", [TOKEN[:10] + "\x01" + TOKEN[10:], TOKEN + "é", "hf_a b"])
def test_a_token_with_a_control_or_non_ascii_character_is_refused(
    space: LocalSpace, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    with pytest.raises(SpaceConfigError) as caught:
        SpaceConfig(url=space.url, token=bad)
    assert bad not in str(caught.value) and "token" in caught.value.message
    monkeypatch.setenv("ACME_TOKEN", bad)
    cfg = SpaceConfig(url=space.url, token_env="ACME_TOKEN")
    with pytest.raises(SpaceConfigError, match=r"\$ACME_TOKEN") as at_call:
        SpaceClient(cfg).generate("Hello")
    assert bad not in str(at_call.value) and at_call.value.url == space.url
    assert space.requests == []  # refused before sending: no misleading connection errors


# ------------------------------------------------------------------ redirects
def test_a_client_that_follows_redirects_itself_cannot_leak_credentials() -> None:
    with HostileServer([response("200 OK", b'{"generated_text": "elsewhere"}')]) as other:
        moved = response("307 Temporary Redirect", location=other.url + "/api/generate")
        with HostileServer([moved]) as space:
            http = httpx.Client(follow_redirects=True)  # httpx would keep X-HF-Authorization
            cfg = SpaceConfig(url=space.url, token=TOKEN, protocol="auto", **FAST)
            answer = SpaceClient(cfg, http_client=http).complete("Hi", x_ip_token="ipt_user")
    assert answer.text == "elsewhere"
    sent = b"".join(other.requests).lower()
    assert other.requests and TOKEN.lower().encode() not in sent
    assert b"authorization" not in sent and b"x-ip-token" not in sent


def redirect_flow(url: str, location: str, status: int = 302) -> Any:
    cfg = SpaceConfig(url=url, token=TOKEN, **FAST)
    flow = exchange(
        cfg,
        tier="base",
        method="POST",
        url=url + "/api/generate",
        body={"inputs": "secret prompt"},
        headers={"authorization": f"Bearer {TOKEN}"},
    )
    answers = [Received(status, {"location": location}, b""), Received(200, {}, b"{}")]
    return Script(answers), flow


def test_an_https_to_http_downgrade_is_refused() -> None:
    script, flow = redirect_flow("https://acme-x.hf.space", "http://evil.example/steal")
    with pytest.raises(SpaceResponseError, match="from https to plain http"):
        script.run(flow)
    assert len(script.sent) == 1  # the prompt never left for the http URL


def test_a_303_is_fetched_with_get_and_no_body() -> None:
    script, flow = redirect_flow("https://acme-x.hf.space", "/result/7", status=303)
    script.run(flow)
    follow = script.sent[1]
    assert (follow.method, follow.json) == ("GET", None)


@pytest.mark.parametrize(
    "location", ["javascript:alert(1)", "http://127.0.0.1:99999/x", "ftp://127.0.0.1/x"]
)
def test_a_hostile_location_is_a_typed_error(location: str) -> None:
    moved = response("302 Found", location=location)
    with HostileServer([moved]) as srv:
        with pytest.raises(SpaceResponseError, match="Redirect"):
            client(srv.url).generate("Hello")
        report = client(srv.url).test_connection()  # promises never to raise
    assert not report.ok and report.error_type == "SpaceResponseError"


# ------------------------------------------------------------------ hostile bodies
def test_a_deeply_nested_503_body_is_a_typed_error() -> None:
    deep = response("503 Service Unavailable", DEEP, content_type="application/json")
    with HostileServer([deep]) as srv, pytest.raises(SpaceUnavailableError, match="HTTP 503"):
        client(srv.url).generate("Hello")


def test_a_deeply_nested_stream_event_is_a_typed_error() -> None:
    events = b"data: " + DEEP + b"\n\n"
    reply = response("200 OK", events, content_type="text/event-stream")
    with (
        HostileServer([reply]) as srv,
        pytest.raises(SpaceResponseError, match="not valid JSON"),
    ):
        list(client(srv.url, protocol="tgi").stream("Hello"))


def test_deeply_nested_tool_arguments_are_an_invalid_call() -> None:
    from langchain_hf_spaces._tools import parse_native_tool_calls

    calls, invalid = parse_native_tool_calls(
        [{"id": "c1", "name": "f", "arguments": DEEP.decode()}]
    )
    assert calls == [] and len(invalid) == 1


def test_retry_after_takes_digits_only() -> None:
    assert parse_retry_after("10") == 10.0
    assert parse_retry_after("1_0") is None and parse_retry_after("inf") is None
    assert parse_retry_after("nan") is None and parse_retry_after("-5") is None


# ------------------------------------------------------------------ fork
_SHARED: list[SpaceClient] = []
"""The parent's client, inherited by the forked children (as a module global is)."""


def _child_calls(worker: int) -> list[tuple[str, str]]:
    shared = _SHARED[0]
    out = []
    for i in range(10):
        prompt = f"worker {worker} call {i}"
        out.append((prompt, shared.generate(prompt, max_new_tokens=12)))
    return out


def test_a_client_used_before_fork_gives_each_child_its_own_connections() -> None:
    """Celery prefork / gunicorn --preload: connections opened in the parent are not shared."""

    def echo(prompt: str, parameters: dict[str, Any]) -> str:
        return f"echo {prompt} from {os.getpid()}"

    with LocalSpace(responder=echo) as srv:
        shared = SpaceClient(SpaceConfig(url=srv.url, max_retries=0))
        _SHARED[:] = [shared]
        parent_pid = os.getpid()
        assert shared.generate("warm up the pool").startswith("echo warm up")
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(4) as pool:
            results = pool.map(_child_calls, range(4))
        for answers in results:
            for prompt, text in answers:
                assert text.startswith(f"echo {prompt} from"), (prompt, text)
        assert shared.generate("parent again").startswith("echo parent again")
        assert os.getpid() == parent_pid
    assert json.dumps(results)  # plain data came back


# ------------------------------------------------------------------ request size
def test_max_prompt_chars_bounds_the_context_and_the_messages(space: LocalSpace) -> None:
    from langchain_hf_spaces import SpaceInputError

    small = SpaceClient(SpaceConfig(url=space.url, token=TOKEN, max_prompt_chars=1000))
    with pytest.raises(SpaceInputError, match="prompt with its context come to"):
        small.generate("short", context={"blob": "x" * 5000})
    with pytest.raises(SpaceInputError, match="the messages come to"):
        small.chat([{"role": "user", "content": "y" * 5000}])
    with pytest.raises(SpaceInputError, match="JSON data"):
        small.chat([{"role": "user", "content": object()}])
    assert space.requests == []  # nothing was sent
    assert small.generate("short", context={"fits": "yes"})


# ------------------------------------------------------------------ loose settings
@pytest.mark.parametrize(
    "fields",
    [
        {"read_timeout": float("inf")},
        {"wake_timeout": float("nan")},
        {"endpoint": "/api/\tgenerate"},
        {"endpoint": "/api\x00/generate"},
        {"url": "https://acme-llm.hf.space:8443"},
    ],
)
def test_loose_settings_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(SpaceConfigError):
        SpaceConfig(**{"url": "https://acme-llm.hf.space", **fields})


@pytest.mark.parametrize("version", ["true", "-7", '"1"'])
def test_a_settings_version_must_be_a_whole_number(tmp_path: Any, version: str) -> None:
    from langchain_hf_spaces import SpacesSettings

    path = tmp_path / "hf-spaces.toml"
    path.write_text(f'version = {version}\n[tiers.base]\nurl = "https://a-b.hf.space"\n')
    with pytest.raises(SpaceConfigError, match="version"):
        SpacesSettings.load(path)


# ------------------------------------------------------------------ echoed secrets
def _echo_headers(status: str, content_type: str = "application/json") -> Any:
    def reply(request: bytes) -> bytes:
        headers = request.split(b"\r\n\r\n", 1)[0].decode()
        body = json.dumps({"error": f"you sent: {headers}"}).encode()
        return response(status, body, content_type=content_type)

    return reply


@pytest.mark.parametrize("status", ["401 Unauthorized", "400 Bad Request", "500 Oops"])
def test_a_token_echoed_in_an_error_body_is_redacted(status: str) -> None:
    with HostileServer([_echo_headers(status)]) as srv:
        with pytest.raises(Exception) as caught:
            client(srv.url).generate("Hello", x_ip_token="ipt_SECRETuser123")
        report = client(srv.url).test_connection()
    text = str(caught.value) + repr(caught.value) + str(report)
    assert "Authorization" in text or "authorization" in text  # the echo arrived ...
    assert TOKEN not in text and "ipt_SECRETuser123" not in text  # ... without the secrets


def test_a_token_echoed_in_a_wrong_shape_answer_is_redacted() -> None:
    def reply(request: bytes) -> bytes:
        lines = request.decode().split("\r\n")
        auth = next(line for line in lines if line.lower().startswith("authorization"))
        return response("200 OK", json.dumps({"unexpected": auth}).encode())

    with HostileServer([reply]) as srv, pytest.raises(SpaceResponseError) as caught:
        client(srv.url).generate("Hello")
    text = str(caught.value)
    assert "authorization: bearer ***" in text.lower() and TOKEN not in text


# ------------------------------------------------------------------ symlinks and --store-token
def test_store_token_never_writes_through_a_planted_symlink(tmp_path: Any) -> None:
    from tests.test_cli import run

    target = tmp_path / "attacker-owned.txt"
    target.write_text("nothing yet")
    (tmp_path / ".hf-spaces.toml.tmp").symlink_to(target)  # the old fixed temporary name
    args = ["init", "--non-interactive", "--url", "https://acme-llm.hf.space", "--store-token"]
    ok = run(*args, cwd=tmp_path, env={"HF_TOKEN": TOKEN})
    assert ok.returncode == 0, ok.stderr
    assert target.read_text() == "nothing yet"
    written = tmp_path / "hf-spaces.toml"
    assert TOKEN in written.read_text() and (written.stat().st_mode & 0o777) == 0o600

    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "hf-spaces.toml").symlink_to(target)  # the destination itself is a link
    refused = run(*args, "--force", cwd=linked, env={"HF_TOKEN": TOKEN})
    assert refused.returncode == 2 and "symbolic link" in refused.stderr
    assert target.read_text() == "nothing yet" and TOKEN not in refused.stderr + refused.stdout


# ------------------------------------------------------------------ world-readable token files
def test_loading_a_readable_token_file_warns_once(tmp_path: Any) -> None:
    import warnings

    from langchain_hf_spaces import SpacesSettings
    from langchain_hf_spaces.config import SettingsFileWarning

    path = tmp_path / "hf-spaces.toml"
    path.write_text(f'version = 1\n[tiers.base]\nurl = "https://a-b.hf.space"\ntoken = "{TOKEN}"\n')
    path.chmod(0o644)
    with pytest.warns(SettingsFileWarning, match="0644") as caught:
        SpacesSettings.load(path)
    assert TOKEN not in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SettingsFileWarning)
        SpacesSettings.load(path)  # once per file
        private = tmp_path / "private.toml"
        private.write_text(path.read_text())
        private.chmod(0o600)
        SpacesSettings.load(private)  # a private file does not warn


def test_doctor_checks_the_mode_of_an_old_format_token_file(tmp_path: Any) -> None:
    from tests.test_cli import run

    path = tmp_path / "hf-spaces.toml"
    path.write_text(f'[base]\nurl = "https://acme-llm.hf.space"\ntoken = "{TOKEN}"\n')  # version 0
    path.chmod(0o644)
    result = run("doctor", "--tier", "base", cwd=tmp_path)
    assert "holds tokens but has mode 0644" in result.stdout
    assert TOKEN not in result.stdout + result.stderr


# ------------------------------------------------------------------ closing after the loop
def test_closing_works_after_the_event_loop_is_gone(space: LocalSpace) -> None:
    import asyncio

    from langchain_hf_spaces import ChatHuggingFaceSpace, HuggingFaceSpaceLLM

    shared = SpaceClient(SpaceConfig(url=space.url, token=TOKEN))
    assert asyncio.run(shared.agenerate("first loop"))
    assert asyncio.run(shared.agenerate("second loop"))  # a new loop: a new async client
    asyncio.run(shared.aclose())  # the second loop is gone too: still closes
    shared.close()
    for cls in (HuggingFaceSpaceLLM, ChatHuggingFaceSpace):
        model = cls(space=SpaceConfig(url=space.url, token=TOKEN))
        assert asyncio.run(model.ainvoke("Hello"))
        asyncio.run(model.aclose())
        model.close()


# ------------------------------------------------------------------ SSE decoding (#4)
def _within(seconds: float, fn: Any) -> Any:
    """``fn()``, or a failure when it has not returned before the deadline (a hang guard)."""
    import threading

    out: list[Any] = []
    worker = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert out, f"still decoding after {seconds} s"
    return out[0]


@pytest.mark.parametrize("blank", [b"\n", b"\r", b"\r\n", b": ping\n"])
def test_a_megabyte_of_blank_lines_decodes_in_one_pass(blank: bytes) -> None:
    from langchain_hf_spaces.protocols import SSEDecoder, SSEEvent

    data = blank * (4 * 1024 * 1024 // len(blank)) + b"event: complete\ndata: [1]\n\n"
    events = _within(10, lambda: SSEDecoder().feed(data))  # 15 s per MiB before: quadratic
    assert events == [SSEEvent("complete", "[1]")]


def test_blank_lines_before_a_stream_change_nothing() -> None:
    from tests.test_flow import tgi_events

    events = b"\n" * (1024 * 1024) + b"".join(tgi_events("one ", "two"))
    reply = response("200 OK", events, content_type="text/event-stream")
    with HostileServer([reply]) as srv:
        chunks = list(client(srv.url, protocol="tgi").stream("Hello"))
    assert "".join(chunks) == "one two"


@pytest.mark.parametrize("line", [b": " + b"x" * (5 << 20), b"event: " + b"x" * (5 << 20)])
def test_a_huge_stream_line_is_a_typed_error(line: bytes) -> None:
    reply = response("200 OK", line + b"\n\n", content_type="text/event-stream")
    with HostileServer([reply]) as srv:
        with pytest.raises(SpaceResponseError, match="longer than") as caught:
            list(client(srv.url, protocol="tgi").stream("Hello"))
        report = client(srv.url, protocol="tgi").test_connection()
    assert caught.value.url == srv.url and "x" * 300 not in str(caught.value)
    assert not report.ok and report.error_type == "SpaceResponseError" and report.hint


def test_one_huge_event_is_a_typed_error() -> None:
    from langchain_hf_spaces.protocols import SSEDecoder
    from langchain_hf_spaces.protocols._sse import SSEError

    decoder = SSEDecoder(max_event_bytes=1000)
    decoder.feed(b"data: " + b"x" * 600 + b"\n")
    with pytest.raises(SSEError, match="event longer than 1000"):
        decoder.feed(b"data: " + b"x" * 600 + b"\n")


# ------------------------------------------------------------------ Test Connection (#17)
from tests.support.hostile import HOSTILE_ANSWERS  # noqa: E402

PROBE: dict[str, Any] = {**FAST, "read_timeout": 0.5, "connect_timeout": 1.0}


@pytest.mark.parametrize("name", sorted(HOSTILE_ANSWERS))
def test_test_connection_reports_every_hostile_answer(name: str) -> None:
    """Never raises, never hangs: a failed report with a hint, the same from every client."""
    import asyncio

    from langchain_hf_spaces import SpacesClient, SpacesSettings

    with HostileServer([HOSTILE_ANSWERS[name]]) as srv:
        report = _within(30, lambda: client(srv.url, **PROBE).test_connection())
        areport = _within(30, lambda: asyncio.run(client(srv.url, **PROBE).atest_connection()))
        settings = SpacesSettings(tiers={"base": SpaceConfig(url=srv.url, token=TOKEN, **PROBE)})
        with SpacesClient(settings) as spaces:
            reports = _within(30, lambda: spaces.test_connection())
    for got in (report, areport, *reports):
        assert not got.ok and got.error_type and got.error and got.hint, got
        assert got.url == srv.url and TOKEN not in str(got)
    assert [r.error_type for r in reports] == [report.error_type] == [areport.error_type]


@pytest.mark.parametrize("name", sorted(HOSTILE_ANSWERS))
def test_doctor_reports_every_hostile_answer(tmp_path: Any, name: str) -> None:
    from tests.test_cli import run

    env = {f"HF_SPACES_BASE_{k.upper()}": str(v) for k, v in PROBE.items()}
    with HostileServer([HOSTILE_ANSWERS[name]]) as srv:
        env.update(HF_SPACES_BASE_URL=srv.url, HF_SPACES_BASE_TOKEN=TOKEN)
        done = run("doctor", cwd=tmp_path, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 of 1 tier(s) failed." in done.stdout and "hint:" in done.stdout
    assert "Traceback" not in done.stderr and "unexpected" not in done.stderr
    assert TOKEN not in done.stdout + done.stderr


def test_test_connection_reports_even_a_bug_without_raising(
    space: LocalSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError(f"internal state with {TOKEN}")

    monkeypatch.setattr(SpaceClient, "_answer", broken)  # what every generation goes through
    report = SpaceClient(SpaceConfig(url=space.url, token=TOKEN)).test_connection()
    assert not report.ok and report.error_type == "SpaceResponseError"
    assert "KeyError" in (report.error or "") and "bug" in (report.hint or "")
    assert TOKEN not in str(report)


@pytest.mark.parametrize("protocol", ["generate", "tgi", "openai"])
def test_a_5000_digit_number_in_an_answer_is_a_typed_error_saying_so(protocol: str) -> None:
    body = b'{"generated_text": 1, "choices": [], "usage": {"prompt_tokens": ' + b"9" * 5000
    reply = response("200 OK", body + b"}}")
    with HostileServer([reply]) as srv, pytest.raises(SpaceResponseError, match="4300 digits"):
        client(srv.url, protocol=protocol, model="m").complete("Hello")
