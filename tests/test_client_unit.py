"""The client against httpx.MockTransport: request shape, answer parsing, error mapping.

Socket-free and fast; the same behaviours are checked on the wire in test_faults.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from langchain_hf_spaces import (
    HFSpacesError,
    SpaceAuthError,
    SpaceClient,
    SpaceConfig,
    SpaceInputError,
    SpaceNotFoundError,
    SpaceRateLimitError,
    SpaceResponseError,
    SpacesClient,
    SpacesDisabledError,
    SpacesSettings,
    SpaceUnavailableError,
)
from langchain_hf_spaces._policy import parse_retry_after

TOKEN = "hf_UNITtokenABCDEFGHIJKLMNOPQRSTU"
URL = "https://acme-base.hf.space"
FAST = {"retry_initial_delay": 0.001, "retry_max_delay": 0.002, "wake_poll_interval": 0.01}

Handler = Callable[[httpx.Request], httpx.Response]


def make(handler: Handler, **cfg: Any) -> tuple[SpaceClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return handler(request)

    transport = httpx.MockTransport(record)
    config = SpaceConfig(**{"url": URL, **FAST, **cfg})
    client = SpaceClient(
        config,
        tier="base",
        http_client=httpx.Client(transport=transport),
        async_http_client=httpx.AsyncClient(transport=transport),
    )
    return client, seen


def ok(text: str = "hello") -> Handler:
    return lambda r: httpx.Response(200, json={"generated_text": text})


def test_request_follows_the_guide_format() -> None:
    client, seen = make(ok("a tidy answer"), token=TOKEN, revision="v7")
    answer = client.complete("Say hi", max_new_tokens=12, temperature=0.5, stop="\n")
    req = seen[0]
    assert req.method == "POST"
    assert str(req.url) == URL + "/api/generate"
    assert json.loads(req.content) == {
        "inputs": "Say hi",
        "parameters": {"max_new_tokens": 12, "temperature": 0.5, "stop": ["\n"]},
    }
    assert req.headers["authorization"] == f"Bearer {TOKEN}"
    assert answer.text == "a tidy answer"
    assert (answer.tier, answer.url, answer.revision, answer.protocol) == (
        "base",
        URL,
        "v7",
        "generate",
    )
    assert answer.attempts == 1
    assert answer.latency > 0
    assert "text" not in answer.metadata and answer.metadata["revision"] == "v7"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"generated_text": "x"}, "x"),
        ([{"generated_text": "y"}], "y"),
        ({"generated_text": "Say hi there friend"}, "there friend"),  # echoed prompt stripped
    ],
)
def test_answer_shapes(body: Any, expected: str) -> None:
    client, _ = make(lambda r: httpx.Response(200, json=body))
    assert client.generate("Say hi") == expected


@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        (httpx.Response(200, content=b'{"generated_text": "abc'), "not valid JSON"),
        (httpx.Response(200, content=b"<!DOCTYPE html><html>hi</html>"), "HTML page"),
        (httpx.Response(200, json={"text": "nope"}), 'no "generated_text"'),
        (httpx.Response(200, content=b""), "empty answer"),
        (httpx.Response(200, json=[]), "empty list"),
        (httpx.Response(200, json={"generated_text": 5}), "not a string"),
    ],
)
def test_bad_answers_are_response_errors_with_excerpt(
    response: httpx.Response, fragment: str
) -> None:
    client, _ = make(lambda r: response)
    with pytest.raises(SpaceResponseError, match=fragment) as info:
        client.generate("x")
    assert info.value.tier == "base" and info.value.url == URL


def test_oversize_answer_is_refused() -> None:
    client, _ = make(ok("x" * 5000), max_response_bytes=1000)
    with pytest.raises(SpaceResponseError, match="max_response_bytes=1000"):
        client.generate("x")


@pytest.mark.parametrize(
    ("status", "error", "fragment"),
    [
        (401, SpaceAuthError, "rejected the token"),
        (403, SpaceAuthError, "denied access"),
        (404, SpaceNotFoundError, "Nothing at https://acme-base.hf.space/api/generate"),
        (422, SpaceResponseError, "HTTP 422: inputs missing"),
    ],
)
def test_client_errors_are_not_retried(status: int, error: type[Exception], fragment: str) -> None:
    client, seen = make(
        lambda r: httpx.Response(status, json={"error": "inputs missing"}), token=TOKEN
    )
    with pytest.raises(error, match=fragment) as info:
        client.generate("x")
    assert len(seen) == 1
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)


def test_401_without_token_says_the_space_is_private() -> None:
    client, _ = make(lambda r: httpx.Response(401, json={"error": "Unauthorized"}))
    with pytest.raises(SpaceAuthError, match="no token was sent") as info:
        client.generate("x")
    assert "HF_TOKEN" in info.value.hint


def test_5xx_retried_then_success() -> None:
    statuses = iter([500, 502, 200])

    def handler(r: httpx.Request) -> httpx.Response:
        code = next(statuses)
        return httpx.Response(
            code, json={"generated_text": "back"} if code == 200 else {"error": "boom"}
        )

    client, seen = make(handler, max_retries=2)
    answer = client.complete("x")
    assert answer.text == "back" and answer.attempts == 3 and len(seen) == 3


def test_5xx_forever_gives_unavailable_with_status() -> None:
    client, seen = make(lambda r: httpx.Response(500, json={"error": "CUDA OOM"}), max_retries=3)
    with pytest.raises(SpaceUnavailableError, match="HTTP 500 after 4 attempt") as info:
        client.generate("x")
    assert "CUDA OOM" in str(info.value) and info.value.status_code == 500
    assert len(seen) == 4


def test_429_retry_after_honoured_then_rate_limit_error(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("time.sleep", lambda s: sleeps.append(s))
    client, seen = make(lambda r: httpx.Response(429, headers={"retry-after": "2"}), max_retries=2)
    with pytest.raises(SpaceRateLimitError) as info:
        client.generate("x")
    assert sleeps == [2.0, 2.0] and len(seen) == 3
    assert info.value.retry_after == 2.0


def test_429_with_long_retry_after_fails_at_once() -> None:
    client, seen = make(lambda r: httpx.Response(429, headers={"retry-after": "3600"}))
    with pytest.raises(SpaceRateLimitError, match="429"):
        client.generate("x")
    assert len(seen) == 1


def test_retry_after_forms() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None


def test_sleeping_space_is_waited_for() -> None:
    answers = iter(
        [
            httpx.Response(
                503, json={"error": "Model is currently loading", "estimated_time": 0.01}
            ),
            httpx.Response(
                503,
                content=b"<html>Space is building</html>",
                headers={"content-type": "text/html"},
            ),
            httpx.Response(200, json={"generated_text": "awake"}),
        ]
    )
    client, seen = make(lambda r: next(answers), max_retries=0)
    answer = client.complete("x")
    assert answer.text == "awake" and len(seen) == 3 and answer.attempts == 1


def test_sleeping_past_wake_timeout() -> None:
    client, _ = make(
        lambda r: httpx.Response(503, json={"error": "loading", "estimated_time": 0.01}),
        wake_timeout=0.05,
    )
    with pytest.raises(SpaceUnavailableError, match="still asleep") as info:
        client.generate("x")
    assert "wake" in info.value.hint


def test_paused_space_fails_fast() -> None:
    page = b"<html><body>This Space has been paused by its owner.</body></html>"
    client, seen = make(
        lambda r: httpx.Response(503, content=page, headers={"content-type": "text/html"})
    )
    with pytest.raises(SpaceUnavailableError, match="paused"):
        client.generate("x")
    assert len(seen) == 1


def test_redirect_same_host_keeps_token_other_host_drops_it() -> None:
    def handler(r: httpx.Request) -> httpx.Response:
        if r.url.path == "/api/generate":
            return httpx.Response(307, headers={"location": "/v2/generate"})
        if r.url.path == "/v2/generate":
            return httpx.Response(307, headers={"location": "https://evil.example.com/steal"})
        return httpx.Response(200, json={"generated_text": "moved"})

    client, seen = make(handler, token=TOKEN)
    assert client.generate("x") == "moved"
    assert [str(r.url) for r in seen] == [
        URL + "/api/generate",
        URL + "/v2/generate",
        "https://evil.example.com/steal",
    ]
    assert seen[1].headers["authorization"] == f"Bearer {TOKEN}"
    assert "authorization" not in seen[2].headers
    assert json.loads(seen[2].content)["inputs"] == "x"


def test_redirect_loop_is_bounded() -> None:
    client, seen = make(lambda r: httpx.Response(302, headers={"location": "/api/generate"}))
    with pytest.raises(SpaceResponseError, match="redirects"):
        client.generate("x")
    assert len(seen) == 6


def test_plain_http_token_refused_before_sending() -> None:
    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200))  # type: ignore[func-returns-value]
    cfg = SpaceConfig(url="http://llm.internal", allow_insecure_http=True, token=TOKEN)
    client = SpaceClient(cfg, http_client=httpx.Client(transport=transport))
    with pytest.raises(HFSpacesError, match="plain http") as info:
        client.generate("x")
    assert not seen and TOKEN not in str(info.value)


def test_rotated_token_applies_without_rebuilding() -> None:
    current = {"token": "hf_one"}
    client, seen = make(ok(), token=lambda: current["token"])
    client.generate("x")
    current["token"] = "hf_two"
    client.generate("x")
    assert [r.headers["authorization"] for r in seen] == ["Bearer hf_one", "Bearer hf_two"]


def test_bad_input_is_rejected_before_sending() -> None:
    client, seen = make(ok())
    with pytest.raises(SpaceInputError, match="max_new_tokens"):
        client.generate("x", max_new_tokens=0)
    with pytest.raises(SpaceInputError, match="prompt is empty"):
        client.generate("")
    assert not seen


def test_context_reaches_the_space_in_a_block() -> None:
    client, seen = make(ok())
    client.generate("Describe it", context={"industry": "healthcare"})
    inputs = json.loads(seen[0].content)["inputs"]
    assert '"industry": "healthcare"' in inputs and inputs.endswith("Describe it")


async def test_async_twins_behave_the_same() -> None:
    statuses = iter([502, 200])

    def handler(r: httpx.Request) -> httpx.Response:
        code = next(statuses)
        return httpx.Response(code, json={"generated_text": "async ok"} if code == 200 else {})

    client, seen = make(handler, token=TOKEN)
    answer = await client.acomplete("x", max_new_tokens=3)
    assert answer.text == "async ok" and answer.attempts == 2
    assert seen[1].headers["authorization"] == f"Bearer {TOKEN}"
    await client.aclose()


def _settings(**kw: Any) -> SpacesSettings:
    return SpacesSettings(
        tiers={
            "base": SpaceConfig(url=URL),
            "company": SpaceConfig(url="https://acme-co.hf.space"),
        },
        **kw,
    )


def test_spaces_client_routes_by_tier() -> None:
    seen: list[str] = []

    def handler(r: httpx.Request) -> httpx.Response:
        seen.append(r.url.host)
        return httpx.Response(200, json={"generated_text": r.url.host})

    transport = httpx.MockTransport(handler)
    with SpacesClient(_settings(), http_client=httpx.Client(transport=transport)) as spaces:
        assert spaces.generate("x") == "acme-base.hf.space"
        assert spaces.generate("x", "company") == "acme-co.hf.space"
        assert spaces.complete("x", tier="company").tier == "company"
        with pytest.raises(SpaceInputError.__mro__[1], match="tier 'user' is not configured"):
            spaces.generate("x", tier="user")


def test_disabled_switch_raises_with_how_to_enable() -> None:
    spaces = SpacesClient(_settings(enabled=False))
    with pytest.raises(SpacesDisabledError, match="HF_SPACES_ENABLED=true"):
        spaces.generate("x")


def test_test_connection_reports_without_raising() -> None:
    def handler(r: httpx.Request) -> httpx.Response:
        if r.url.host == "acme-co.hf.space":
            return httpx.Response(401, json={"error": "bad token"})
        return httpx.Response(200, json={"generated_text": "OK"})

    transport = httpx.MockTransport(handler)
    spaces = SpacesClient(_settings(), http_client=httpx.Client(transport=transport))
    base, company = spaces.test_connection()
    assert base.ok and base.reachable and base.format_ok and base.sample == "OK"
    assert not company.ok and company.reachable and not company.auth_ok
    assert company.error_type == "SpaceAuthError" and company.hint
    assert "FAIL" in company.summary() and "OK" in base.summary()


def _failing_company(r: httpx.Request) -> httpx.Response:
    if r.url.host == "acme-co.hf.space":
        return httpx.Response(500, json={"error": "boom"})
    return httpx.Response(200, json={"generated_text": f"from {r.url.host}"})


def test_fallback_to_base_when_a_tier_fails_or_is_missing() -> None:
    transport = httpx.MockTransport(_failing_company)
    settings = SpacesSettings(
        tiers={
            "base": SpaceConfig(url=URL, **FAST),
            "company": SpaceConfig(url="https://acme-co.hf.space", max_retries=0),
        }
    )
    spaces = SpacesClient(
        settings, http_client=httpx.Client(transport=transport), fallback_to_base=True
    )
    answer = spaces.complete("x", "company")
    assert (answer.text, answer.tier, answer.fallback_from) == (
        "from acme-base.hf.space",
        "base",
        "company",
    )
    assert answer.metadata["fallback_from"] == "company"
    missing = spaces.complete("x", "user")
    assert (missing.tier, missing.fallback_from) == ("base", "user")
    assert spaces.complete("x").fallback_from is None


def test_without_fallback_the_failure_is_raised() -> None:
    transport = httpx.MockTransport(_failing_company)
    settings = SpacesSettings(
        tiers={
            "base": SpaceConfig(url=URL),
            "company": SpaceConfig(url="https://acme-co.hf.space", max_retries=0),
        }
    )
    spaces = SpacesClient(settings, http_client=httpx.Client(transport=transport))
    with pytest.raises(SpaceUnavailableError, match="HTTP 500"):
        spaces.generate("x", "company")


async def test_async_fallback() -> None:
    transport = httpx.MockTransport(_failing_company)
    settings = SpacesSettings(
        tiers={
            "base": SpaceConfig(url=URL),
            "company": SpaceConfig(url="https://acme-co.hf.space", max_retries=0),
        }
    )
    spaces = SpacesClient(
        settings, async_http_client=httpx.AsyncClient(transport=transport), fallback_to_base=True
    )
    answer = await spaces.acomplete("x", "company")
    assert answer.fallback_from == "company" and answer.tier == "base"
