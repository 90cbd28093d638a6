"""LocalSpace: every route, auth, each fault as seen on the wire by httpx."""

from __future__ import annotations

import importlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from langchain_hf_spaces.testing import (
    Fault,
    LocalSpace,
    RecordedRequest,
    ResponderError,
    ScriptExhaustedError,
    demo_responder,
    scripted_responder,
)

# ---------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def shared_space() -> Iterator[LocalSpace]:
    with LocalSpace(name="base") as space:
        yield space


@pytest.fixture
def space(shared_space: LocalSpace) -> Iterator[LocalSpace]:
    shared_space.clear_requests()
    shared_space.clear_faults()
    shared_space.wake()
    yield shared_space
    shared_space.clear_faults()
    shared_space.wake()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as c:
        yield c


def sse_data(text: str) -> list[str]:
    return [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]


def gen(client: httpx.Client, space: LocalSpace, path: str = "/api/generate", **kw: Any) -> Any:
    body = {"inputs": kw.pop("inputs", "Hello"), "parameters": kw}
    return client.post(space.url + path, json=body)


# ---------------------------------------------------------------------- lifecycle & basics


def test_url_port_and_repr(space: LocalSpace) -> None:
    assert space.url == f"http://127.0.0.1:{space.port}"
    assert space.url_for_host("localhost") == f"http://localhost:{space.port}"
    assert space.running and not space.private
    assert "base" in repr(space)


def test_keep_alive_requests_are_fast(space: LocalSpace, client: httpx.Client) -> None:
    # Regression: without TCP_NODELAY, Nagle + delayed ACK cost ~40 ms per keep-alive request.
    started = time.monotonic()
    for _ in range(20):
        assert gen(client, space).status_code == 200
    assert time.monotonic() - started < 0.5


def test_port_before_start_raises() -> None:
    with pytest.raises(RuntimeError, match="start"):
        _ = LocalSpace().url


def test_index_health_info_models_404_405(space: LocalSpace, client: httpx.Client) -> None:
    index = client.get(space.url + "/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert "base" in index.text

    health = client.get(space.url + "/health")
    assert health.status_code == 200 and health.content == b""

    info = client.get(space.url + "/info").json()
    assert info["model_id"] == "langchain-hf-spaces/local-demo"
    assert info["model_sha"] is None
    assert info["max_input_tokens"] == 4096 and info["max_total_tokens"] == 8192
    assert info["max_best_of"] == 2 and info["max_stop_sequences"] == 4
    assert info["version"] == "3.0.0-local" and info["router"] == "text-generation-router"

    models = client.get(space.url + "/v1/models").json()
    assert models["object"] == "list"
    assert models["data"][0]["id"] == "local-demo" and models["data"][0]["object"] == "model"

    missing = client.get(space.url + "/nope")
    assert missing.status_code == 404 and missing.json() == {"error": "Not Found"}
    assert client.get(space.url + "/api/generate").status_code == 405
    assert client.post(space.url + "/info").status_code == 405


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        # TGI's routes and the OpenAI routes TGI serves answer errors in TGI's shape ...
        ("GET", "/generate", 405, {"error": "Method Not Allowed", "error_type": "request"}),
        ("GET", "/generate_stream", 405, {"error": "Method Not Allowed", "error_type": "request"}),
        ("POST", "/health", 405, {"error": "Method Not Allowed", "error_type": "request"}),
        (
            "GET",
            "/v1/chat/completions",
            405,
            {"error": "Method Not Allowed", "error_type": "request"},
        ),
        ("POST", "/v1/models", 405, {"error": "Method Not Allowed", "error_type": "request"}),
        ("GET", "/v1/chat/nope", 404, {"error": "Not Found", "error_type": "request"}),
        # ... the guide's paths, the index page and unknown paths in Hugging Face's.
        ("GET", "/v1/generate", 405, {"error": "Method Not Allowed"}),
        ("PUT", "/models/x/generate", 405, {"error": "Method Not Allowed"}),
        ("PUT", "/", 405, {"error": "Method Not Allowed"}),
        ("GET", "/v1/nope", 404, {"error": "Not Found"}),
    ],
)
def test_each_dialect_answers_errors_in_its_own_shape(
    space: LocalSpace, client: httpx.Client, method: str, path: str, status: int, body: Any
) -> None:
    r = client.request(method, space.url + path)
    assert r.status_code == status and r.json() == body


def test_head_requests_are_served_by_the_get_routes(
    space: LocalSpace, client: httpx.Client
) -> None:
    for path in ("/", "/health", "/info", "/v1/models"):
        assert client.head(space.url + path).status_code == 200, path


# ---------------------------------------------------------------------- the guide's API


@pytest.mark.parametrize("path", ["/api/generate", "/v1/generate", "/v2/api/generate"])
def test_guide_generate_paths(space: LocalSpace, client: httpx.Client, path: str) -> None:
    r = gen(client, space, path, max_new_tokens=100, seed=3)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    text = r.json()["generated_text"]
    assert text.startswith("Demo answer from base: ")
    assert space.requests[-1].path == path


@pytest.mark.parametrize(
    "body",
    [
        {"parameters": {}},
        {"inputs": 3},
        [1, 2],
        {"inputs": "x", "parameters": {"max_new_tokens": 0}},
        {"inputs": "x", "parameters": "nope"},
    ],
)
def test_guide_generate_invalid_body(space: LocalSpace, client: httpx.Client, body: Any) -> None:
    r = client.post(space.url + "/api/generate", json=body)
    assert r.status_code == 422
    assert set(r.json()) == {"error"}


def test_guide_generate_not_json(space: LocalSpace, client: httpx.Client) -> None:
    r = client.post(space.url + "/api/generate", content=b"{nope")
    assert r.status_code == 422
    assert space.requests[-1].json is None and space.requests[-1].body == b"{nope"


@pytest.mark.parametrize("shape", ["list", "echo"])
def test_answer_shapes(shape: Any) -> None:
    responder = scripted_responder({"": "the answer"})
    with LocalSpace(responder=responder, answer_shape=shape) as space, httpx.Client() as client:
        data = gen(client, space, inputs="Q: ").json()
    if shape == "list":
        assert data == [{"generated_text": "the answer"}]
    else:
        assert data == {"generated_text": "Q: the answer"}


# ---------------------------------------------------------------------- responders


def test_demo_responder_deterministic_and_seeded(space: LocalSpace, client: httpx.Client) -> None:
    first = gen(client, space, inputs="Write a slogan", seed=1).json()["generated_text"]
    again = gen(client, space, inputs="Write a slogan", seed=1).json()["generated_text"]
    other = gen(client, space, inputs="Write a slogan", seed=2).json()["generated_text"]
    assert first == again != other
    direct = demo_responder("Write a slogan", {"seed": 1}, name="base")
    assert direct == first
    seeds = {demo_responder("p", {"seed": s}) for s in range(20)}
    assert len(seeds) >= 19


def test_demo_responder_max_new_tokens() -> None:
    assert len(demo_responder("p", {}).split()) <= 32
    for limit in (1, 3, 5, 12):
        assert len(demo_responder("p", {"max_new_tokens": limit}).split()) == limit
    assert demo_responder("p", {"max_new_tokens": 4}, name="company") == "Demo answer from company:"


def test_server_enforces_max_new_tokens(space: LocalSpace, client: httpx.Client) -> None:
    r = gen(client, space, "/generate", max_new_tokens=6, details=True).json()
    assert len(r["generated_text"].split()) == 6
    assert r["details"]["finish_reason"] == "length"
    assert r["details"]["generated_tokens"] == 6


def test_scripted_responder_in_order_then_exhausted() -> None:
    responder = scripted_responder(["first", "second"])
    with LocalSpace(responder=responder) as space, httpx.Client() as client:
        assert gen(client, space).json() == {"generated_text": "first"}
        assert gen(client, space).json() == {"generated_text": "second"}
        exhausted = gen(client, space)
        assert exhausted.status_code == 500
        assert "exhausted" in exhausted.json()["error"]
    assert responder.remaining == 0
    assert [call[0] for call in responder.calls] == ["Hello"] * 3
    with pytest.raises(ScriptExhaustedError):
        responder("x", {})


def test_scripted_responder_thread_safe() -> None:
    responder = scripted_responder([str(i) for i in range(50)])
    with ThreadPoolExecutor(8) as pool:
        answers = [str(a) for a in pool.map(lambda _: responder("p", {}), range(50))]
    assert sorted(answers, key=int) == [str(i) for i in range(50)]


def test_scripted_mapping_and_responder_errors() -> None:
    responder = scripted_responder(
        {"slogan": "Drink green.", "busy": ResponderError("try later", status=429)}
    )
    with LocalSpace(responder=responder) as space, httpx.Client() as client:
        assert gen(client, space, inputs="a slogan").json() == {"generated_text": "Drink green."}
        assert gen(client, space, inputs="slogan!").json() == {"generated_text": "Drink green."}
        busy = gen(client, space, inputs="busy")
        assert busy.status_code == 429 and busy.json() == {"error": "try later"}
        unmatched = gen(client, space, inputs="other")
        assert unmatched.status_code == 500 and "no scripted answer" in unmatched.json()["error"]
    with pytest.raises(TypeError):
        scripted_responder("just one string")


def test_responder_crash_and_dict_on_text_route() -> None:
    def crash(prompt: str, parameters: dict[str, Any]) -> str:
        raise KeyError("boom")

    with LocalSpace(responder=crash) as space, httpx.Client() as client:
        r = gen(client, space, "/generate")
        assert r.status_code == 500
        assert r.json()["error_type"] == "generation" and "KeyError" in r.json()["error"]
    tools = scripted_responder([{"tool_calls": [{"name": "f", "arguments": {}}]}])
    with LocalSpace(responder=tools) as space, httpx.Client() as client:
        r = gen(client, space)
        assert r.status_code == 500 and "tool calls" in r.json()["error"]


# ---------------------------------------------------------------------- TGI


def test_tgi_generate_details_and_stop(space: LocalSpace, client: httpx.Client) -> None:
    plain = gen(client, space, "/generate", seed=5).json()
    assert set(plain) == {"generated_text"}
    detailed = gen(client, space, "/generate", seed=5, details=True).json()
    assert detailed["generated_text"] == plain["generated_text"]
    details = detailed["details"]
    assert details["finish_reason"] == "eos_token" and details["seed"] == 5
    assert details["generated_tokens"] == len(plain["generated_text"].split())
    assert details["prefill"] == [] and details["tokens"] == []

    stopped = gen(client, space, "/generate", seed=5, details=True, stop=["from"]).json()
    assert stopped["generated_text"] == "Demo answer "
    assert stopped["details"]["finish_reason"] == "stop_sequence"


def test_tgi_validation_errors(space: LocalSpace, client: httpx.Client) -> None:
    empty = gen(client, space, "/generate", inputs="")
    assert empty.status_code == 422
    assert empty.json()["error_type"] == "validation"
    many = gen(client, space, "/generate", stop=["a", "b", "c", "d", "e"])
    assert many.status_code == 422 and many.json()["error_type"] == "validation"
    bad = client.post(space.url + "/generate_stream", json={"parameters": {}})
    assert bad.status_code == 422 and set(bad.json()) == {"error", "error_type"}


def test_tgi_generate_stream(space: LocalSpace, client: httpx.Client) -> None:
    expected = gen(client, space, "/generate", seed=9).json()["generated_text"]
    r = client.post(
        space.url + "/generate_stream", json={"inputs": "Hello", "parameters": {"seed": 9}}
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(d) for d in sse_data(r.text)]
    assert len(events) == len(expected.split())
    assert [e["index"] for e in events] == list(range(len(events)))
    assert events[0]["token"] == {"id": 0, "text": "Demo ", "logprob": 0.0, "special": False}
    assert all(e["generated_text"] is None and e["details"] is None for e in events[:-1])
    assert "".join(e["token"]["text"] for e in events) == expected
    assert events[-1]["generated_text"] == expected
    assert events[-1]["details"] == {
        "finish_reason": "eos_token",
        "generated_tokens": len(events),
        "seed": 9,
    }
    assert space.requests[-1].stream


# ---------------------------------------------------------------------- OpenAI-compatible chat

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "Hi there"}]},
]


def test_chat_completion_prompt_and_usage() -> None:
    responder = scripted_responder(["one two three four"])
    with LocalSpace(responder=responder) as space, httpx.Client() as client:
        body = {"model": "m", "messages": MESSAGES, "max_tokens": 3, "seed": 4, "stop": "zzz"}
        data = client.post(space.url + "/v1/chat/completions", json=body).json()
    prompt, parameters = responder.calls[0]
    assert prompt == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi there<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert parameters["messages"] == MESSAGES
    assert parameters["max_new_tokens"] == 3 and parameters["seed"] == 4
    assert parameters["stop"] == ["zzz"]
    assert data["object"] == "chat.completion" and data["model"] == "m"
    assert data["id"].startswith("chatcmpl-") and isinstance(data["created"], int)
    choice = data["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "one two three"}
    assert choice["finish_reason"] == "length"
    prompt_tokens = len(prompt.split())
    assert data["usage"] == {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": 3,
        "total_tokens": prompt_tokens + 3,
    }


def test_chat_completion_stream(space: LocalSpace, client: httpx.Client) -> None:
    body = {
        "messages": MESSAGES,
        "stream": True,
        "seed": 1,
        "stream_options": {"include_usage": True},
    }
    r = client.post(space.url + "/v1/chat/completions", json=body)
    assert r.headers["content-type"].startswith("text/event-stream")
    data = sse_data(r.text)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text.startswith("Demo answer from base: ")
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == len(text.split())
    plain = client.post(space.url + "/v1/chat/completions", json={**body, "stream": False})
    assert plain.json()["choices"][0]["message"]["content"] == text


def test_chat_tool_calls() -> None:
    call = {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}
    responder = scripted_responder([call, call])
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    body = {"messages": MESSAGES, "tools": tools}
    with LocalSpace(responder=responder) as space, httpx.Client() as client:
        data = client.post(space.url + "/v1/chat/completions", json=body).json()
        stream = client.post(space.url + "/v1/chat/completions", json={**body, "stream": True})
    assert responder.calls[0][1]["tools"] == tools
    choice = data["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {
            "id": "call_0",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ]
    chunks = [json.loads(d) for d in sse_data(stream.text)[:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0]["role"] == "assistant"
    first = deltas[1]["tool_calls"][0]
    assert first["id"] == "call_1" and first["function"]["name"] == "get_weather"
    arguments = "".join(
        d["tool_calls"][0]["function"]["arguments"] for d in deltas if "tool_calls" in d
    )
    assert json.loads(arguments) == {"city": "Paris"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_chat_validation(space: LocalSpace, client: httpx.Client) -> None:
    r = client.post(space.url + "/v1/chat/completions", json={"messages": []})
    assert r.status_code == 422 and r.json()["error_type"] == "validation"
    r = client.post(space.url + "/v1/chat/completions", json={"messages": [{"content": "x"}]})
    assert r.status_code == 422


# ---------------------------------------------------------------------- private Spaces


def test_private_space_auth() -> None:
    with LocalSpace(name="secret", token="hf_secret_token") as space, httpx.Client() as client:
        assert space.private
        assert "hf_secret_token" not in repr(space)
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": "hf_secret_token"},
            {"Authorization": "Basic hf_secret_token"},
        ):
            r = client.post(space.url + "/api/generate", json={"inputs": "x"}, headers=headers)
            assert r.status_code == 401
            assert r.json() == {"error": "Invalid credentials in Authorization header"}
        ok = {"Authorization": "Bearer hf_secret_token"}
        assert client.post(space.url + "/api/generate", json={"inputs": "x"}, headers=ok).is_success
        hf = {"X-HF-Authorization": "bearer hf_secret_token"}
        assert client.get(space.url + "/info", headers=hf).is_success
        tgi = client.post(space.url + "/generate", json={"inputs": "x"})
        assert tgi.status_code == 401
        assert tgi.json() == {"error": "Invalid credentials in Authorization header"}
        recorded = space.requests[4]
        assert recorded.headers["authorization"] == "Bearer hf_secret_token"
        assert "hf_secret_token" not in repr(recorded)
        assert "<redacted>" in repr(recorded)


# ---------------------------------------------------------------------- recording


def test_requests_are_recorded(space: LocalSpace, client: httpx.Client) -> None:
    space.inject(Fault.server_error())
    client.post(
        space.url + "/api/generate?x=1&y=2",
        json={"inputs": "Hi"},
        headers={"X-Trace": "abc", "User-Agent": "ua"},
    )
    client.get(space.url + "/health")
    first, second = space.requests
    assert isinstance(first, RecordedRequest)
    assert (first.method, first.path, first.query) == ("POST", "/api/generate", "x=1&y=2")
    assert first.headers["x-trace"] == "abc" and first.headers["user-agent"] == "ua"
    assert json.loads(first.body) == {"inputs": "Hi"} and first.json == {"inputs": "Hi"}
    assert first.text == first.body.decode()
    assert first.fault == Fault.server_error()
    assert (second.method, second.body, second.json, second.fault) == ("GET", b"", None, None)
    assert space.last_request == second
    space.clear_requests()
    assert space.requests == [] and space.last_request is None


# ---------------------------------------------------------------------- faults on the wire


def test_fault_status_generic(space: LocalSpace, client: httpx.Client) -> None:
    space.inject(Fault.status(418, {"error": "teapot"}, headers={"X-Why": "demo"}))
    space.inject(Fault.status(400, "plain", content_type="text/plain"))
    r = gen(client, space)
    assert r.status_code == 418 and r.json() == {"error": "teapot"}
    assert r.headers["x-why"] == "demo"
    r = gen(client, space)
    assert r.status_code == 400 and r.text == "plain"
    assert r.headers["content-type"].startswith("text/plain")


def test_fault_rate_limited(space: LocalSpace, client: httpx.Client) -> None:
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    space.inject(Fault.rate_limited())
    space.inject(Fault.rate_limited(retry_after=date))
    space.inject(Fault.rate_limited(retry_after=None))
    space.inject(Fault.rate_limited(retry_after=2), path="/generate")
    first, second, third = gen(client, space), gen(client, space), gen(client, space)
    assert [r.status_code for r in (first, second, third)] == [429] * 3
    assert first.json() == {"error": "Rate limit reached"}
    assert first.headers["retry-after"] == "1"
    assert second.headers["retry-after"] == date
    assert "retry-after" not in third.headers
    tgi = gen(client, space, "/generate")
    assert tgi.json() == {"error": "Rate limit reached", "error_type": "overloaded"}
    assert tgi.headers["retry-after"] == "2"


@pytest.mark.parametrize("code", [500, 502, 504])
def test_fault_server_error(space: LocalSpace, client: httpx.Client, code: int) -> None:
    space.inject(Fault.server_error(code))
    r = gen(client, space)
    assert r.status_code == code
    assert r.headers["content-type"] == "application/json"
    assert set(r.json()) == {"error"}


def test_fault_sleeping_forms(space: LocalSpace, client: httpx.Client) -> None:
    space.inject(Fault.sleeping())
    space.inject(Fault.sleeping(form="json", estimated_time=7.5))
    space.inject(Fault.sleeping(status=502))
    page = gen(client, space)
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert "This Space is sleeping" in page.text
    loading = gen(client, space)
    assert loading.status_code == 503
    assert loading.json() == {"error": "Model is currently loading", "estimated_time": 7.5}
    assert gen(client, space).status_code == 502
    assert gen(client, space).status_code == 200


def test_sleep_for_expires(space: LocalSpace, client: httpx.Client) -> None:
    space.sleep_for(0.4, form="json")
    assert space.asleep
    r = gen(client, space)
    assert r.status_code == 503
    assert 0 < r.json()["estimated_time"] <= 0.4
    space.sleep_for(0.4)
    html_page = client.get(space.url + "/info")
    assert html_page.status_code == 503 and "sleeping" in html_page.text
    time.sleep(0.45)
    assert not space.asleep
    assert gen(client, space).status_code == 200


def test_fault_slow(space: LocalSpace, client: httpx.Client) -> None:
    space.inject(Fault.slow(0.3))
    started = time.monotonic()
    r = gen(client, space)
    assert time.monotonic() - started >= 0.3
    assert r.status_code == 200 and "generated_text" in r.json()
    space.inject(Fault.slow(0.4))
    with pytest.raises(httpx.ReadTimeout):
        client.post(space.url + "/api/generate", json={"inputs": "x"}, timeout=0.1)
    assert space.in_flight == 1  # the server is still answering the abandoned request
    while space.in_flight:
        time.sleep(0.02)


def test_fault_bad_bodies(space: LocalSpace, client: httpx.Client) -> None:
    for fault in (
        Fault.malformed_json(),
        Fault.html(),
        Fault.wrong_shape(),
        Fault.empty(),
        Fault.oversize(100_000),
    ):
        space.inject(fault)
    malformed = gen(client, space)
    assert malformed.status_code == 200
    assert malformed.headers["content-type"] == "application/json"
    assert malformed.content == b'{"generated_text": "abc'
    with pytest.raises(json.JSONDecodeError):
        malformed.json()
    page = gen(client, space)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.lstrip().startswith("<!DOCTYPE html>")
    assert gen(client, space).json() == {"text": "this is not the expected shape"}
    empty = gen(client, space)
    assert empty.status_code == 200 and empty.content == b""
    assert empty.headers["content-length"] == "0"
    big = gen(client, space)
    assert len(big.json()["generated_text"]) == 100_000


def test_fault_reset_mid_body(space: LocalSpace, client: httpx.Client) -> None:
    space.inject(Fault.reset_mid_body())
    with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
        gen(client, space)
    # The status line and headers did arrive before the cut:
    space.inject(Fault.reset_mid_body())
    with client.stream("POST", space.url + "/api/generate", json={"inputs": "x"}) as r:
        assert r.status_code == 200
        declared = int(r.headers["content-length"])
        received = bytearray()
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in r.iter_raw():
                received += chunk
    assert 0 < len(received) < declared
    assert gen(client, space).status_code == 200  # the client recovers on a new connection


def test_fault_drop(space: LocalSpace, client: httpx.Client) -> None:
    space.inject(Fault.drop())
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        gen(client, space)
    space.inject(Fault.drop(rst=True))
    with pytest.raises(httpx.ReadError):
        gen(client, space)
    assert gen(client, space).status_code == 200
    assert [r.fault for r in space.requests] == [Fault.drop(), Fault.drop(rst=True), None]


def test_fault_redirect_same_host(space: LocalSpace, client: httpx.Client) -> None:
    space.inject(Fault.redirect("/v1/generate"))
    r = client.post(space.url + "/api/generate", json={"inputs": "x"})
    assert r.status_code == 307 and r.headers["location"] == "/v1/generate"
    space.inject(Fault.redirect("/v1/generate", status=308))
    followed = client.post(space.url + "/api/generate", json={"inputs": "x"}, follow_redirects=True)
    assert followed.status_code == 200
    assert [req.path for req in space.requests[1:]] == ["/api/generate", "/v1/generate"]
    assert space.requests[-1].json == {"inputs": "x"}  # 307/308 keep the body


def test_fault_redirect_cross_host(space: LocalSpace, client: httpx.Client) -> None:
    target = space.url_for_host("localhost") + "/api/generate"
    space.inject(Fault.redirect(target))
    r = client.post(
        space.url + "/api/generate",
        json={"inputs": "x"},
        headers={"Authorization": "Bearer hf_x"},
        follow_redirects=True,
    )
    assert r.status_code == 200
    first, second = space.requests
    assert first.headers["host"] == f"127.0.0.1:{space.port}"
    assert second.headers["host"] == f"localhost:{space.port}"
    assert "authorization" not in second.headers  # httpx strips it on a cross-host redirect


def test_fault_stream_cut_tgi(space: LocalSpace, client: httpx.Client) -> None:
    space.inject(Fault.stream_cut(after_events=2))
    assert gen(client, space).status_code == 200  # non-streaming requests pass it by
    lines: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"),
        client.stream("POST", space.url + "/generate_stream", json={"inputs": "x"}) as r,
    ):
        assert r.status_code == 200
        lines.extend(line for line in r.iter_lines() if line)
    events = [json.loads(line[len("data: ") :]) for line in lines]
    assert [e["index"] for e in events] == [0, 1]
    assert all(e["generated_text"] is None for e in events)
    assert space.pending_faults == []


def test_fault_stream_cut_chat(space: LocalSpace, client: httpx.Client) -> None:
    space.inject(Fault.stream_cut(after_events=1000))  # still cut before the end
    body = {"messages": MESSAGES, "stream": True}
    lines: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", space.url + "/v1/chat/completions", json=body) as r,
    ):
        lines.extend(line for line in r.iter_lines() if line)
    assert lines and "data: [DONE]" not in lines


# ---------------------------------------------------------------------- FIFO / times


def test_fault_fifo_and_times(space: LocalSpace, client: httpx.Client) -> None:
    space.inject(Fault.rate_limited(), times=2)
    space.inject(Fault.server_error(502))
    assert space.pending_faults == [(Fault.rate_limited(), 2), (Fault.server_error(502), 1)]
    codes = [gen(client, space).status_code for _ in range(5)]
    assert codes == [429, 429, 502, 200, 200]


def test_fault_forever_and_clear(space: LocalSpace, client: httpx.Client) -> None:
    space.inject(Fault.server_error(), times=None)
    space.inject(Fault.rate_limited())
    assert [gen(client, space).status_code for _ in range(4)] == [500] * 4
    space.clear_faults()
    assert gen(client, space).status_code == 200


def test_fault_path_filter(space: LocalSpace, client: httpx.Client) -> None:
    space.inject(Fault.server_error(), path="/generate")
    assert client.get(space.url + "/info").status_code == 200
    assert gen(client, space).status_code == 200
    assert gen(client, space, "/generate").status_code == 500


def test_inject_validation(space: LocalSpace) -> None:
    with pytest.raises(ValueError):
        space.inject(Fault.empty(), times=0)
    with pytest.raises(TypeError):
        space.inject("boom")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Fault.server_error(404)
    with pytest.raises(ValueError):
        Fault.redirect("/x", status=200)
    with pytest.raises(ValueError):
        Fault.status(42)
    assert "reset_mid_body" in repr(Fault.reset_mid_body())


# ---------------------------------------------------------------------- concurrency & lifecycle


def test_many_spaces_concurrently() -> None:
    spaces = [LocalSpace(name=f"s{i}") for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(LocalSpace.start, spaces))
    try:
        assert len({s.port for s in spaces}) == 4

        def ask(s: LocalSpace) -> str:
            r = httpx.post(s.url + "/api/generate", json={"inputs": "hi"})
            return str(r.json()["generated_text"])

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, spaces * 3))
        for answer, s in zip(answers, spaces * 3, strict=True):
            assert answer.startswith(f"Demo answer from {s.name}:")
        assert all(len(s.requests) == 3 for s in spaces)
    finally:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(LocalSpace.stop, spaces))
    assert not any(s.running for s in spaces)


def test_peak_concurrency(space: LocalSpace) -> None:
    space.inject(Fault.slow(0.3), times=4)
    with ThreadPoolExecutor(4) as pool:
        responses = list(
            pool.map(
                lambda _: httpx.post(space.url + "/api/generate", json={"inputs": "x"}), range(4)
            )
        )
    codes = [r.status_code for r in responses]
    assert codes == [200] * 4
    assert space.peak_concurrency == 4


def test_stop_is_quick_even_with_requests_in_flight() -> None:
    space = LocalSpace(name="quick").start()
    space.inject(Fault.slow(30))
    errors: list[BaseException] = []

    def slow_call() -> None:
        try:
            httpx.post(space.url + "/api/generate", json={"inputs": "x"}, timeout=10)
        except httpx.HTTPError as exc:
            errors.append(exc)

    caller = threading.Thread(target=slow_call)
    caller.start()
    while not space.requests:
        time.sleep(0.01)
    started = time.monotonic()
    space.stop()
    assert time.monotonic() - started < 1.0
    caller.join(2)
    assert not caller.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], httpx.RemoteProtocolError)
    with pytest.raises(httpx.ConnectError):
        httpx.get(space.url + "/health")
    space.stop()  # idempotent


def test_restart_on_same_port() -> None:
    with LocalSpace(name="again") as space:
        port = space.port
        space.stop()
        space.start()
        assert space.port == port
        assert httpx.get(space.url + "/health").status_code == 200
        with pytest.raises(RuntimeError, match="already running"):
            space.start()


def test_fixed_port() -> None:
    with LocalSpace(name="a") as first:
        port = first.port
    with LocalSpace(name="b", port=port) as second:
        assert second.url == f"http://127.0.0.1:{port}"
        assert httpx.get(second.url + "/health").status_code == 200


async def test_async_context_manager() -> None:
    async with LocalSpace(name="async") as space, httpx.AsyncClient() as client:
        r = await client.post(space.url + "/api/generate", json={"inputs": "hi"})
        assert r.json()["generated_text"].startswith("Demo answer from async:")
    assert not space.running


def test_import_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name.startswith("langchain_hf_spaces.testing"):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(ImportError, match=r"pip install \"langchain-hf-spaces\[server\]\""):
        importlib.import_module("langchain_hf_spaces.testing")
