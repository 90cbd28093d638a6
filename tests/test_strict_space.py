"""LocalSpace is as strict as the servers it stands in for (TGI, OpenAI-compatible), and the
client neither sends what they refuse nor misreads their error bodies (issue #14); the small
output glitches of issue #15 item 11 (stream hold-back, 401 hints, settings file locations,
quiet stream cuts, unknown token counts)."""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_hf_spaces import (
    SpaceAuthError,
    SpaceClient,
    SpaceConfig,
    SpaceRateLimitError,
    SpaceResponseError,
    SpacesSettings,
    SpaceUnavailableError,
)
from langchain_hf_spaces._chat_templates import MarkerCutter
from langchain_hf_spaces.protocols.openai import OpenAIProtocol
from langchain_hf_spaces.testing import Fault, LocalSpace
from langchain_hf_spaces.testing._dialects._base import split_tokens

FAST: dict[str, Any] = {
    "retry_initial_delay": 0.01,
    "retry_max_delay": 0.02,
    "max_retries": 2,
    "read_timeout": 5.0,
    "connect_timeout": 2.0,
}
ANSWER = "Hello there, my good friend. How are you today? Fine, thanks."


def _echo(prompt: str, parameters: dict[str, Any]) -> str:
    return ANSWER


@pytest.fixture(scope="module")
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="strict", responder=_echo, max_tokens_cap=64) as s:
        yield s


@pytest.fixture(autouse=True)
def _clean(space: LocalSpace) -> Iterator[None]:
    space.clear_faults()
    space.clear_requests()
    yield
    space.clear_faults()


def client(space: LocalSpace, protocol: str, **cfg: Any) -> SpaceClient:
    if protocol == "openai":
        cfg.setdefault("model", "local-demo")
    return SpaceClient(
        SpaceConfig(**{"url": space.url, "protocol": protocol, **FAST, **cfg}), tier="company"
    )


def post(space: LocalSpace, path: str, body: Any) -> httpx.Response:
    return httpx.post(space.url + path, json=body, timeout=5.0)


# ------------------------------------------------------------------ the server: TGI routes
@pytest.mark.parametrize("path", ["/generate", "/generate_stream", "/"])
@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"temperature": 0}, "`temperature` must be strictly positive"),
        ({"temperature": 0.0}, "`temperature` must be strictly positive"),
        ({"top_p": 1.0}, "`top_p` must be > 0.0 and < 1.0"),
        ({"top_p": 0}, "`top_p` must be > 0.0 and < 1.0"),
        ({"typical_p": 1.0}, "`typical_p` must be > 0.0 and < 1.0"),
        ({"top_k": 0}, "`top_k` must be strictly positive"),
        ({"repetition_penalty": 0}, "`repetition_penalty` must be strictly positive"),
        ({"max_new_tokens": 65}, "`max_new_tokens` must be <= 64. Given: 65"),
    ],
)
def test_tgi_routes_refuse_what_tgi_refuses(
    space: LocalSpace, path: str, parameters: dict[str, Any], message: str
) -> None:
    r = post(space, path, {"inputs": "Hi", "parameters": parameters})
    assert r.status_code == 422
    assert r.json() == {"error": message, "error_type": "validation"}


@pytest.mark.parametrize("path", ["/generate", "/generate_stream", "/"])
def test_tgi_routes_refuse_unknown_parameters_and_fields(space: LocalSpace, path: str) -> None:
    r = post(space, path, {"inputs": "Hi", "parameters": {"max_tokens": 5}})
    assert r.status_code == 422
    body = r.json()
    assert body["error_type"] == "validation" and "unknown field `max_tokens`" in body["error"]
    r = post(space, path, {"inputs": "Hi", "prompt": "Hi"})
    assert r.status_code == 422 and "unknown field `prompt`" in r.json()["error"]


@pytest.mark.parametrize("path", ["/generate", "/generate_stream", "/", "/v1/chat/completions"])
def test_every_tgi_error_body_has_an_error_type(space: LocalSpace, path: str) -> None:
    for body in ({"inputs": ""}, "not an object", {"messages": []}):
        r = post(space, path, body)
        assert r.status_code == 422, (path, body)
        assert set(r.json()) == {"error", "error_type"}


def test_tgi_compatibility_route(space: LocalSpace) -> None:
    r = post(space, "/", {"inputs": "Hi", "parameters": {"max_new_tokens": 3}})
    assert r.status_code == 200
    assert r.json() == [{"generated_text": "Hello there, my"}]  # a list, as TGI's POST / answers
    with httpx.stream(
        "POST", space.url + "/", json={"inputs": "Hi", "stream": True}, timeout=5.0
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]
    assert "".join(e["token"]["text"] for e in events) == ANSWER
    assert events[-1]["generated_text"] == ANSWER
    assert httpx.get(space.url + "/", timeout=5.0).headers["content-type"].startswith("text/html")


def test_client_tgi_protocol_answers_through_the_compatibility_route(space: LocalSpace) -> None:
    answer = client(space, "generate", endpoint="/").generate("Hi", max_new_tokens=2)
    assert answer == "Hello there,"
    assert space.requests[-1].path == "/"


# ------------------------------------------------------------------ the server: OpenAI routes
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions"])
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"n": 2}, "`n` must be 1: this server returns one choice. Given: 2"),
        ({"max_tokens": 65}, "`max_tokens` must be <= 64. Given: 65"),
    ],
)
def test_openai_routes_refuse_n_and_max_tokens_over_the_cap(
    space: LocalSpace, path: str, extra: dict[str, Any], message: str
) -> None:
    body: dict[str, Any] = {"model": "local-demo", **extra}
    if path == "/v1/completions":
        body["prompt"] = "Hi"
    else:
        body["messages"] = [{"role": "user", "content": "Hi"}]
    r = post(space, path, body)
    assert r.status_code == 422
    assert r.json() == {"error": message, "error_type": "validation"}


def test_openai_route_refuses_tools_and_response_format_unless_supported() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    fmt = {"type": "json_object"}
    msgs = [{"role": "user", "content": "Hi"}]
    with LocalSpace(supports_tools=False, supports_response_format=False) as strict:
        for key, value in (("tools", [tool]), ("response_format", fmt)):
            r = post(strict, "/v1/chat/completions", {"messages": msgs, key: value})
            assert r.status_code == 422
            assert r.json() == {
                "error": f"`{key}` is not supported by this server",
                "error_type": "validation",
            }
    with LocalSpace() as default:  # TGI and vLLM take both
        r = post(
            default,
            "/v1/chat/completions",
            {"messages": msgs, "tools": [tool], "response_format": fmt},
        )
        assert r.status_code == 200


def test_openai_completions_route(space: LocalSpace) -> None:
    r = post(space, "/v1/completions", {"prompt": "Hi", "max_tokens": 2})
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "text_completion"
    assert body["choices"][0]["text"] == "Hello there,"
    assert body["choices"][0]["finish_reason"] == "length"


def test_max_tokens_cap_is_checked() -> None:
    with pytest.raises(ValueError, match="max_tokens_cap"):
        LocalSpace(max_tokens_cap=0)


# ------------------------------------------------------------------ the client sends what TGI takes
@pytest.mark.parametrize("stream", [False, True])
def test_client_sends_tgi_greedy_not_temperature_zero(space: LocalSpace, stream: bool) -> None:
    c = client(space, "tgi")
    params = {"temperature": 0, "top_p": 1.0, "typical_p": 1.0, "max_new_tokens": 8}
    text = "".join(c.stream("Hi", **params)) if stream else c.generate("Hi", **params)
    assert text == "Hello there, my good friend. How are you"
    sent = space.requests[-1].json["parameters"]
    assert sent["do_sample"] is False
    assert not {"temperature", "top_p", "typical_p"} & set(sent)


def test_client_keeps_real_sampling_values(space: LocalSpace) -> None:
    client(space, "tgi").generate("Hi", temperature=0.7, top_p=0.9, top_k=40)
    sent = space.requests[-1].json["parameters"]
    assert (sent["temperature"], sent["top_p"], sent["top_k"]) == (0.7, 0.9, 40)


# ------------------------------------------------------------------ the client reads error_type
GENERATION = {"error": "Request failed during generation: CUDA OOM", "error_type": "generation"}
OVERLOADED = {"error": "Model is overloaded", "error_type": "overloaded"}
VALIDATION = {"error": "`top_n_tokens` must be >= 0 and <= 5. Given: 9", "error_type": "validation"}


@pytest.mark.parametrize("protocol", ["tgi", "openai"])
def test_generation_error_is_a_retried_server_failure(space: LocalSpace, protocol: str) -> None:
    space.inject(Fault.status(424, GENERATION), times=None)
    with pytest.raises(SpaceUnavailableError) as info:
        client(space, protocol).generate("Hi")
    err = info.value
    assert "failed while generating" in err.message and "CUDA OOM" in err.message
    assert "prompt" not in (err.hint or "").lower()
    assert len(space.requests) == 3  # retried: max_retries=2


def test_generation_error_then_success(space: LocalSpace) -> None:
    space.inject(Fault.status(424, GENERATION), times=1)
    assert client(space, "tgi").generate("Hi", max_new_tokens=1) == "Hello"


def test_overloaded_error_type_is_a_rate_limit(space: LocalSpace) -> None:
    space.inject(Fault.status(424, OVERLOADED), times=None)
    with pytest.raises(SpaceRateLimitError):
        client(space, "tgi").generate("Hi")
    assert len(space.requests) == 3


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (422, VALIDATION),
        (400, {"error": {"message": "bad n", "type": "invalid_request_error", "code": None}}),
        (400, {"object": "error", "message": "bad n", "type": "BadRequestError", "code": 400}),
    ],
)
def test_validation_error_says_check_your_prompt(
    space: LocalSpace, status: int, body: dict[str, Any]
) -> None:
    space.inject(Fault.status(status, body))
    with pytest.raises(SpaceResponseError) as info:
        client(space, "openai").generate("Hi")
    assert "refused the request as invalid" in info.value.message
    assert "Check your prompt and parameters" in (info.value.hint or "")
    assert len(space.requests) == 1  # not retried


def test_openai_server_error_type_is_a_server_failure(space: LocalSpace) -> None:
    body = {"error": {"message": "engine died", "type": "server_error"}}
    space.inject(Fault.status(424, body), times=None)
    with pytest.raises(SpaceUnavailableError, match="engine died"):
        client(space, "openai").generate("Hi")


def test_real_422_from_local_space_reaches_the_user_as_invalid(space: LocalSpace) -> None:
    with pytest.raises(SpaceResponseError) as info:
        client(space, "tgi").generate("Hi", max_new_tokens=500)
    assert "`max_new_tokens` must be <= 64. Given: 500" in info.value.message
    assert "Check your prompt and parameters" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("error_type", "expected"),
    [("validation", SpaceResponseError), ("generation", SpaceUnavailableError)],
)
def test_error_type_inside_a_tgi_stream(
    space: LocalSpace, error_type: str, expected: type[Exception]
) -> None:
    event = b'data: {"error": "boom", "error_type": "' + error_type.encode() + b'"}\n\n'
    space.inject(Fault.status(200, event, content_type="text/event-stream"))
    with pytest.raises(expected) as info:
        list(client(space, "tgi").stream("Hi"))
    hint = getattr(info.value, "hint", "") or ""
    assert ("prompt" in hint.lower()) == (error_type == "validation")


# ------------------------------------------------------------------ #15 item 11
def test_chat_stream_chunks_are_the_servers_deltas(space: LocalSpace) -> None:
    from langchain_hf_spaces import ChatHuggingFaceSpace

    chat = ChatHuggingFaceSpace(space_url=space.url, protocol="tgi")
    chunks = [str(c.content) for c in chat.stream("Hi") if c.content]
    assert chunks == split_tokens(ANSWER)  # no lag, no split words


def test_marker_cutter_holds_back_only_a_marker_prefix() -> None:
    cutter = MarkerCutter(["<|im_end|>", "<|eot_id|>"])
    assert cutter.feed("Hello ") == "Hello "
    assert cutter.feed("world <") == "world "  # "<" could start a marker
    assert cutter.feed("|im") == ""
    assert cutter.feed("age|> ok") == "<|image|> ok"  # it did not
    assert cutter.feed(" done<|eot") == " done"
    assert cutter.feed("_id|>leak") == ""
    assert cutter.done and cutter.flush() == ""


def test_openai_zero_prompt_tokens_means_unknown() -> None:
    proto = OpenAIProtocol(SpaceConfig(url="http://127.0.0.1:1", protocol="openai"))
    body = {
        "choices": [{"message": {"role": "assistant", "content": "x"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 1, "total_tokens": 1},
    }
    gen = proto.parse_chat_response(json.dumps(body).encode())
    assert gen.prompt_tokens is None and gen.completion_tokens == 1


def test_401_hint_on_openai_space_names_api_key() -> None:
    with LocalSpace(token="hf_right_token_value") as private:
        for token in ("hf_wrong_token_value", None):
            with pytest.raises(SpaceAuthError) as info:
                client(private, "openai", token=token).generate("Hi")
            hint = info.value.hint or ""
            assert "api_key=" in hint, hint
            assert "hf_wrong_token_value" not in str(info.value)
        with pytest.raises(SpaceAuthError) as info:
            client(private, "tgi", token="hf_wrong_token_value").generate("Hi")
        assert "api_key=" in (info.value.hint or "")


def _settings(path: Path, tier_url: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'version = 1\n[tiers.base]\nurl = "{tier_url}"\n', encoding="utf-8")


def test_settings_read_from_the_user_config_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.delenv("HF_SPACES_CONFIG", raising=False)
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    _settings(xdg / "hf-spaces" / "hf-spaces.toml", "http://127.0.0.1:7001")
    assert SpacesSettings.load().tiers["base"].url == "http://127.0.0.1:7001"
    # ./hf-spaces.toml comes first
    _settings(Path.cwd() / "hf-spaces.toml", "http://127.0.0.1:7002")
    assert SpacesSettings.load().tiers["base"].url == "http://127.0.0.1:7002"


def test_settings_user_dir_defaults_to_home_dot_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.delenv("HF_SPACES_CONFIG", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    _settings(
        tmp_path / "home" / ".config" / "hf-spaces" / "hf-spaces.toml", "http://127.0.0.1:7003"
    )
    assert SpacesSettings.load().tiers["base"].url == "http://127.0.0.1:7003"


def test_doctor_says_which_settings_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from langchain_hf_spaces.cli._main import main

    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.delenv("HF_SPACES_CONFIG", raising=False)
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    user_file = xdg / "hf-spaces" / "hf-spaces.toml"
    with LocalSpace() as s:
        _settings(user_file, s.url)
        os.chmod(user_file, 0o600)
        main(["doctor"])
    out = capsys.readouterr().out
    assert str(user_file) in out and "the user's settings file" in out


def test_local_space_is_quiet_when_a_client_cuts_a_stream(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    with LocalSpace(responder=lambda p, k: "word " * 5000) as s:
        for path, body in (
            ("/generate_stream", {"inputs": "Hi"}),
            (
                "/v1/chat/completions",
                {"messages": [{"role": "user", "content": "Hi"}], "stream": True},
            ),
        ):
            data = json.dumps(body).encode()
            sock = socket.create_connection(("127.0.0.1", s.port))
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n\r\n".encode()
                + data
            )
            sock.recv(200)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
            deadline = time.monotonic() + 10
            while s.in_flight and time.monotonic() < deadline:
                time.sleep(0.02)
        # the Space still answers
        assert httpx.get(s.url + "/health", timeout=5.0).status_code == 200
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == [], [r.getMessage() for r in loud]
    err = capfd.readouterr().err
    assert "Traceback" not in err and "socket.send" not in err
    assert any("closed the stream" in r.getMessage() for r in caplog.records)
