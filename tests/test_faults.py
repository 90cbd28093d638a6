"""The fault matrix, live on loopback: a real LocalSpace misbehaves, the client copes.

Each case asserts the outcome (success after recovery, or the specific typed error naming tier
and Space URL) and that no call hangs past its configured timeout. Waits are configured short.
"""

from __future__ import annotations

import email.utils
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from langchain_hf_spaces import (
    HFSpacesError,
    SpaceAuthError,
    SpaceClient,
    SpaceConfig,
    SpaceConnectionError,
    SpaceNotFoundError,
    SpaceRateLimitError,
    SpaceResponseError,
    SpaceTimeoutError,
    SpaceUnavailableError,
)
from langchain_hf_spaces.testing import Fault, LocalSpace

TOKEN = "hf_FAULTtokenABCDEFGHIJKLMNOPQRSTU"
FAST: dict[str, Any] = {
    "retry_initial_delay": 0.01,
    "retry_max_delay": 0.05,
    "wake_poll_interval": 0.2,
    "wake_timeout": 5.0,
    "read_timeout": 5.0,
    "connect_timeout": 2.0,
}
PROTOCOLS = ["generate", "tgi", "openai"]


@pytest.fixture(scope="module")
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="faults", token=TOKEN) as s:
        yield s


@pytest.fixture(autouse=True)
def _clean(space: LocalSpace) -> Iterator[None]:
    space.clear_faults()
    space.wake()
    space.clear_requests()
    yield
    space.clear_faults()
    space.wake()


def client(space: LocalSpace, protocol: str = "generate", **cfg: Any) -> SpaceClient:
    if protocol == "openai":
        cfg.setdefault("model", "local-demo")  # no /v1/models lookup: faults hit the call itself
    config = SpaceConfig(**{"url": space.url, "token": TOKEN, "protocol": protocol, **FAST, **cfg})
    return SpaceClient(config, tier="company")


def assert_names_space(err: HFSpacesError, space: LocalSpace) -> None:
    assert err.tier == "company"
    assert err.url == space.url
    assert space.url in str(err) and "tier 'company'" in str(err)
    assert TOKEN not in str(err) and TOKEN not in repr(err)


def timed(fn: Any, *args: Any, limit: float, **kwargs: Any) -> Any:
    started = time.monotonic()
    try:
        return fn(*args, **kwargs)
    finally:
        assert time.monotonic() - started < limit, "the call hung past its configured limit"


# --------------------------------------------------------------------------- sleeping Spaces
@pytest.mark.parametrize("form", ["html", "json"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_sleeping_space_wakes(space: LocalSpace, form: str, protocol: str) -> None:
    space.sleep_for(0.6, form=form)  # type: ignore[arg-type]
    answer = timed(client(space, protocol).complete, "Hello", max_new_tokens=4, limit=4.0)
    assert answer.text
    assert len(space.requests) >= 2  # it really was asleep for a while


@pytest.mark.parametrize("form", ["html", "json"])
def test_sleeping_past_wake_timeout(space: LocalSpace, form: str) -> None:
    space.sleep_for(30, form=form)  # type: ignore[arg-type]
    with pytest.raises(SpaceUnavailableError, match="still asleep") as info:
        timed(client(space, wake_timeout=0.5).generate, "Hello", limit=3.0)
    assert_names_space(info.value, space)
    assert "wake" in info.value.hint


async def test_sleeping_space_wakes_async(space: LocalSpace) -> None:
    space.sleep_for(0.5, form="json")
    assert await client(space, "tgi").agenerate("Hello", max_new_tokens=3)


# --------------------------------------------------------------------------- 429
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_429_with_retry_after_seconds_then_success(space: LocalSpace, protocol: str) -> None:
    space.inject(Fault.rate_limited(retry_after="0.2"), times=2)
    answer = timed(client(space, protocol).complete, "Hi", max_new_tokens=3, limit=3.0)
    assert answer.attempts == 3


def test_429_with_http_date_retry_after(space: LocalSpace) -> None:
    when = email.utils.formatdate(time.time() + 1, usegmt=True)
    space.inject(Fault.rate_limited(retry_after=when))
    answer = timed(client(space).complete, "Hi", limit=4.0)
    assert answer.attempts == 2


def test_429_without_retry_after_backs_off_then_gives_up(space: LocalSpace) -> None:
    space.inject(Fault.rate_limited(retry_after=None), times=None)
    with pytest.raises(SpaceRateLimitError, match="429") as info:
        timed(client(space, max_retries=2).generate, "Hi", limit=3.0)
    assert_names_space(info.value, space)
    assert len(space.requests) == 3


# --------------------------------------------------------------------------- 5xx
@pytest.mark.parametrize("code", [500, 502, 504])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_5xx_then_success(space: LocalSpace, code: int, protocol: str) -> None:
    space.inject(Fault.server_error(code))
    answer = client(space, protocol).complete("Hi", max_new_tokens=3)
    assert answer.attempts == 2


def test_500_forever(space: LocalSpace) -> None:
    space.inject(Fault.server_error(500), times=None)
    with pytest.raises(SpaceUnavailableError, match="HTTP 500 after 3 attempt") as info:
        timed(client(space, max_retries=2).generate, "Hi", limit=3.0)
    assert_names_space(info.value, space)
    assert info.value.status_code == 500


# --------------------------------------------------------------------------- 4xx
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_401_wrong_token(space: LocalSpace, protocol: str) -> None:
    with pytest.raises(SpaceAuthError, match="rejected the token") as info:
        client(space, protocol, token="hf_wrong_token_value").generate("Hi")
    assert_names_space(info.value, space)
    assert "hf_wrong_token_value" not in str(info.value)
    assert len(space.requests) == 1  # not retried


def test_401_without_token(space: LocalSpace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(SpaceAuthError, match="no token was sent"):
        client(space, token=None).generate("Hi")


def test_403(space: LocalSpace) -> None:
    space.inject(Fault.status(403, body=b'{"error": "no access to this Space"}'))
    with pytest.raises(SpaceAuthError, match=r"403.*no access") as info:
        client(space).generate("Hi")
    assert_names_space(info.value, space)


def test_404_wrong_endpoint(space: LocalSpace) -> None:
    with pytest.raises(SpaceNotFoundError, match=r"/api/generat\b") as info:
        client(space, endpoint="/api/generat").generate("Hi")
    assert_names_space(info.value, space)
    assert "endpoint" in info.value.hint


# --------------------------------------------------------------------------- transport
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused(space: LocalSpace) -> None:
    cfg = SpaceConfig(url=f"http://127.0.0.1:{_free_port()}", **{**FAST, "max_retries": 2})
    with pytest.raises(SpaceConnectionError, match=r"Could not connect.*3 attempt") as info:
        timed(SpaceClient(cfg, tier="company").generate, "Hi", limit=3.0)
    assert info.value.tier == "company"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_reset_mid_body_is_retried(space: LocalSpace, protocol: str) -> None:
    space.inject(Fault.reset_mid_body())
    answer = client(space, protocol).complete("Hi", max_new_tokens=3)
    assert answer.attempts == 2


def test_reset_mid_body_forever(space: LocalSpace) -> None:
    space.inject(Fault.reset_mid_body(), times=None)
    with pytest.raises(SpaceConnectionError, match="connection broke") as info:
        client(space, max_retries=1).generate("Hi")
    assert_names_space(info.value, space)


def test_dropped_connection_is_retried(space: LocalSpace) -> None:
    space.inject(Fault.drop())
    assert client(space).complete("Hi").attempts == 2


def test_read_timeout(space: LocalSpace) -> None:
    space.inject(Fault.slow(3.0))
    with pytest.raises(SpaceTimeoutError, match=r"read_timeout=0.4") as info:
        timed(client(space, read_timeout=0.4).generate, "Hi", limit=2.5)
    assert_names_space(info.value, space)


# --------------------------------------------------------------------------- bad answers
@pytest.mark.parametrize(
    ("fault", "fragment"),
    [
        (Fault.malformed_json(), "not valid JSON"),
        (Fault.html(), "HTML page"),
        (Fault.wrong_shape(), 'no "generated_text"'),
        (Fault.empty(), "empty answer"),
        (Fault.oversize(200_000), "max_response_bytes=100000"),
    ],
)
def test_bad_answers(space: LocalSpace, fault: Fault, fragment: str) -> None:
    space.inject(fault)
    with pytest.raises(SpaceResponseError, match=fragment) as info:
        client(space, max_response_bytes=100_000).generate("Hi")
    assert_names_space(info.value, space)


@pytest.mark.parametrize("protocol", ["tgi", "openai"])
def test_bad_answers_other_protocols(space: LocalSpace, protocol: str) -> None:
    space.inject(Fault.malformed_json())
    with pytest.raises(SpaceResponseError, match="not valid JSON"):
        client(space, protocol).generate("Hi")


# --------------------------------------------------------------------------- streams
@pytest.mark.parametrize("protocol", ["tgi", "openai"])
def test_stream_cut_midway_raises_after_yielding(space: LocalSpace, protocol: str) -> None:
    space.inject(Fault.stream_cut(after_events=3))
    got: list[str] = []
    with pytest.raises(SpaceConnectionError, match="stream was cut") as info:
        for chunk in client(space, protocol).stream("One two three four five", max_new_tokens=10):
            got.append(chunk)
    assert len(got) >= 2  # what arrived was passed on
    assert_names_space(info.value, space)


@pytest.mark.parametrize("protocol", ["tgi", "openai"])
async def test_stream_cut_midway_async(space: LocalSpace, protocol: str) -> None:
    space.inject(Fault.stream_cut(after_events=3))
    got: list[str] = []
    with pytest.raises(SpaceConnectionError, match="stream was cut"):
        async for chunk in client(space, protocol).astream("a b c d e f", max_new_tokens=10):
            got.append(chunk)
    assert got


# --------------------------------------------------------------------------- redirects
def test_redirect_same_host_followed_with_token(space: LocalSpace) -> None:
    space.inject(Fault.redirect("/v2/generate"))
    assert client(space).generate("Hi")
    second = space.requests[1]
    assert second.path == "/v2/generate"
    assert second.headers["authorization"] == f"Bearer {TOKEN}"


def test_redirect_to_other_host_strips_token(space: LocalSpace) -> None:
    other = space.url_for_host("localhost")
    space.inject(Fault.redirect(other + "/api/generate"))
    with pytest.raises(SpaceAuthError):  # the other host is private too: no token -> 401
        client(space).generate("Hi")
    second = space.requests[1]
    assert "authorization" not in second.headers
    assert "x-hf-authorization" not in second.headers


def test_plain_http_non_loopback_with_token_refused_before_sending() -> None:
    cfg = SpaceConfig(url="http://10.255.255.1:9", allow_insecure_http=True, token=TOKEN)
    with pytest.raises(HFSpacesError, match="plain http") as info:
        timed(SpaceClient(cfg).generate, "Hi", limit=1.0)
    assert TOKEN not in str(info.value)


# --------------------------------------------------------------------------- shared clients
async def test_many_concurrent_calls_share_one_pool(space: LocalSpace) -> None:
    import asyncio

    c = client(space, "tgi")
    answers = await asyncio.gather(*(c.agenerate(f"n{i}", max_new_tokens=3) for i in range(50)))
    assert len(answers) == 50 and all(answers)
    await c.aclose()


async def test_a_burst_stays_within_the_pool_limit() -> None:
    """Hundreds of concurrent calls: none fails, and no more than the pool's connection limit
    are in flight at the Space at once (the rest wait their turn in the client)."""
    import asyncio

    from langchain_hf_spaces._constants import DEFAULT_MAX_CONNECTIONS

    with LocalSpace(name="burst") as burst:
        burst.inject(Fault.slow(0.05), times=None)
        c = SpaceClient(SpaceConfig(url=burst.url, max_retries=0), tier="company")
        results = await asyncio.gather(
            *(c.agenerate(f"n{i}", max_new_tokens=2) for i in range(300)), return_exceptions=True
        )
        await c.aclose()
        assert not [r for r in results if isinstance(r, BaseException)]
        assert 1 < burst.peak_concurrency <= DEFAULT_MAX_CONNECTIONS


def test_client_usable_from_threads(space: LocalSpace) -> None:
    from concurrent.futures import ThreadPoolExecutor

    c = client(space)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: c.generate(f"t{i}", max_new_tokens=3), range(40)))
    assert len(answers) == 40 and all(answers)
    c.close()
