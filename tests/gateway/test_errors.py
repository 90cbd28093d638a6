"""Errors in OpenAI's shape and status, the API key, bad bodies, fallbacks and disconnects."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from langchain_hf_spaces import SpaceConfig
from langchain_hf_spaces.testing import Fault, scripted_responder
from tests.conftest import PLANTED_TOKEN
from tests.gateway.conftest import FAST, Stack

USER = [{"role": "user", "content": "Hi"}]
CHAT = {"model": "base", "messages": USER}


def _error(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return dict(error)


def test_an_unknown_model_is_a_404_model_not_found(started: Stack) -> None:
    space, gateway, sdk = started.one()
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.chat.completions.create(model="gpt-4o", messages=USER)  # type: ignore[arg-type]
    assert caught.value.status_code == 404
    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"
    assert "base" in caught.value.message
    with pytest.raises(openai.NotFoundError):
        sdk.completions.create(model="company", prompt="hi")
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("company")
    response = httpx.get(gateway.base_url.removesuffix("/v1") + "/nowhere")
    assert response.status_code == 404 and _error(response)["code"] == "not_found"
    assert space.requests == []


def test_a_sleeping_space_past_its_wake_timeout_is_a_503_with_retry_after(started: Stack) -> None:
    space = started.space()
    space.sleep_for(60)
    _, gateway, sdk = started.one(space, **FAST)
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model="base", messages=USER)
    assert caught.value.status_code == 503
    assert caught.value.code == "space_unavailable"
    assert int(caught.value.response.headers["retry-after"]) > 0
    assert space.url in caught.value.message  # which Space, and a hint
    assert "Hint:" in caught.value.message
    # A stream fails the same way, before any chunk: an HTTP status, not an event.
    body = {**CHAT, "stream": True}
    response = httpx.post(gateway.base_url + "/chat/completions", json=body)
    assert response.status_code == 503 and "retry-after" in response.headers
    assert _error(response)["type"] == "server_error"


def test_a_rate_limited_space_is_a_429_with_its_retry_after(started: Stack) -> None:
    space = started.space()
    space.inject(Fault.rate_limited(retry_after="7"), times=None)
    _, _, sdk = started.one(space, **FAST)
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.chat.completions.create(model="base", messages=USER)
    assert caught.value.status_code == 429
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.response.headers["retry-after"] == "7"


def test_a_slow_space_is_a_504(started: Stack) -> None:
    space = started.space()
    space.inject(Fault.slow(3.0), times=None)
    _, _, sdk = started.one(space, read_timeout=0.3, **FAST)
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.chat.completions.create(model="base", messages=USER)
    assert caught.value.status_code == 504
    assert caught.value.code == "space_timeout"


def test_a_space_refusing_our_token_is_a_502_that_never_shows_it(
    started: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    space = started.space(token="hf_theRightOne123456")
    _, gateway, sdk = started.one(space, token=PLANTED_TOKEN, **FAST)
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.chat.completions.create(model="base", messages=USER)
    assert caught.value.status_code == 502  # not 401: the caller's own key is not at fault
    assert caught.value.code == "space_auth_failed"
    assert PLANTED_TOKEN not in caught.value.response.text
    stream = httpx.post(gateway.base_url + "/chat/completions", json={**CHAT, "stream": True})
    assert stream.status_code == 502 and PLANTED_TOKEN not in stream.text
    assert PLANTED_TOKEN not in httpx.get(gateway.base_url + "/models").text
    assert PLANTED_TOKEN not in caplog.text
    assert space.requests[0].headers["authorization"] == f"Bearer {PLANTED_TOKEN}"


def test_the_api_key_is_required_on_every_route_when_set(
    started: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = "gw-key-0123456789"
    space, gateway, sdk = started.one(
        started.space(responder=scripted_responder(["ok"])), gateway={"api_key": key}
    )
    assert sdk.chat.completions.create(model="base", messages=USER).choices[0].message.content
    for wrong in ("wrong-key", key + "x", ""):
        bad = openai.OpenAI(base_url=gateway.base_url, api_key=wrong or "-", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as caught:
            bad.models.list()
        assert caught.value.status_code == 401
        assert caught.value.code == "invalid_api_key"
        bad.close()
    url = gateway.base_url
    for method, path in [("GET", "/models"), ("GET", "/models/base"), ("POST", "/completions")]:
        response = httpx.request(method, url + path, json={"model": "base", "prompt": "x"})
        assert response.status_code == 401
        assert _error(response)["type"] == "invalid_request_error"
        assert response.headers["www-authenticate"] == "Bearer"
    assert len(space.requests) == 1  # refused calls never reach the Space
    assert key not in caplog.text


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "base"}, "messages"),
        ({"messages": USER}, "model"),
        ({**CHAT, "n": 2}, "n"),
        ({**CHAT, "temperature": "hot"}, "temperature"),
        ({**CHAT, "max_tokens": 0}, "max_tokens"),
        ({**CHAT, "stream": "yes"}, "stream"),
        ({**CHAT, "stream_options": {"include_usage": True}}, "stream_options"),
        ({**CHAT, "frobnicate": 1}, "frobnicate"),
        ({**CHAT, "tools": [{"type": "function"}]}, "tools[0]"),
        ({**CHAT, "tool_choice": "required"}, "tool_choice"),
        ({**CHAT, "response_format": {"type": "yaml"}}, "response_format.type"),
        ({"model": "base", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"model": "base", "messages": []}, "messages"),
        ({**CHAT, "presence_penalty": 0.5}, "presence_penalty"),  # a text Space has none
    ],
)
def test_bad_bodies_are_400_naming_the_param(
    started: Stack, body: dict[str, object], param: str
) -> None:
    space, gateway, _ = started.one()
    response = httpx.post(gateway.base_url + "/chat/completions", json=body)
    assert response.status_code == 400, response.text
    error = _error(response)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert space.requests == []


def test_tool_choice_naming_an_unknown_tool_is_a_400(started: Stack) -> None:
    from tests.gateway.conftest import add_tool

    _, gateway, _ = started.one()
    body = {
        **CHAT,
        "tools": [add_tool()],
        "tool_choice": {"type": "function", "function": {"name": "mul"}},
    }
    response = httpx.post(gateway.base_url + "/chat/completions", json=body)
    assert response.status_code == 400 and _error(response)["param"] == "tool_choice"


def test_not_json_and_too_large_bodies(started: Stack) -> None:
    space, gateway, _ = started.one(gateway={"max_body_bytes": 2000})
    url = gateway.base_url + "/chat/completions"
    response = httpx.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "JSON" in str(_error(response)["message"])
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 5000}]}
    response = httpx.post(url, json=big)
    assert response.status_code == 413 and _error(response)["code"] == "request_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        yield json.dumps(big).encode()

    assert httpx.post(url, content=chunks()).status_code == 413
    assert space.requests == []


def test_a_space_side_input_error_is_a_400(started: Stack) -> None:
    _, _, sdk = started.one(max_prompt_chars=50)
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model="base", messages=[{"role": "user", "content": "x" * 80}])
    assert "max_prompt_chars" in caught.value.message


def test_a_stream_cut_midway_ends_with_an_error_event(started: Stack) -> None:
    space = started.space(responder=scripted_responder(["one two three four five six seven"]))
    space.inject(Fault.stream_cut(after_events=3))
    _, _, sdk = started.one(space, protocol="tgi", **FAST)
    received: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in sdk.chat.completions.create(model="base", messages=USER, stream=True):
            received.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(received).startswith("one")
    assert "connection" in caught.value.message.lower() or "cut" in caught.value.message.lower()


def test_fallback_to_base_answers_from_base_and_says_so(started: Stack) -> None:
    base = started.space(responder=scripted_responder(["from base", "from base"]))
    company = started.space(name="company")
    company.sleep_for(60)
    client = started.client(
        {"base": SpaceConfig(url=base.url), "company": SpaceConfig(url=company.url, **FAST)},
        fallback_to_base=True,
    )
    sdk = started.openai(started.gateway(client))
    reply = sdk.chat.completions.create(model="company", messages=USER)
    assert reply.choices[0].message.content == "from base"
    assert reply.model == "company"
    assert reply.model_extra is not None
    assert reply.model_extra["hf_spaces"]["fallback_from"] == "company"
    assert reply.model_extra["hf_spaces"]["tier"] == "base"
    chunks = list(sdk.chat.completions.create(model="company", messages=USER, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "from base"
    assert chunks[-1].model_extra is not None
    assert chunks[-1].model_extra["hf_spaces"]["fallback_from"] == "company"


def _wait_until(condition: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.02)
    return False


def test_a_client_leaving_mid_stream_cancels_the_space_call(started: Stack) -> None:
    words = " ".join(f"w{i}" for i in range(200))
    space = started.space(responder=scripted_responder([words]), stream_delay=0.05)
    _, gateway, _ = started.one(space, protocol="tgi")
    body = {**CHAT, "stream": True, "max_tokens": 200}
    url = gateway.base_url + "/chat/completions"
    with httpx.Client() as http, http.stream("POST", url, json=body) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
        assert _wait_until(lambda: space.in_flight == 1)
    # the connection is closed here, ~195 words before the end of the answer
    assert _wait_until(lambda: space.in_flight == 0, timeout=5.0)  # the Space call was closed


def test_a_client_leaving_before_the_answer_cancels_the_space_call(
    started: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="langchain_hf_spaces.gateway")
    space = started.space()
    space.inject(Fault.slow(3.0))  # LocalSpace's pause does not watch its socket: the gateway does
    _, gateway, _ = started.one(space)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(gateway.base_url + "/chat/completions", json=CHAT, timeout=0.5)
    assert _wait_until(lambda: "POST /v1/chat/completions 499" in caplog.text, timeout=2.5)
    assert "the client disconnected" in caplog.text
