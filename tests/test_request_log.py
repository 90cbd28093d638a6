"""The request log: one INFO record per call on ``langchain_hf_spaces.requests``, with the facts
as ``extra=`` fields; never the token, the prompt only when asked for."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from langchain_hf_spaces import (
    MemoryCache,
    RequestLogger,
    SpaceClient,
    SpaceConfig,
    SpacesClient,
    SpacesSettings,
    SpaceUnavailableError,
)
from langchain_hf_spaces._observe import NOOP_SCOPE, CallStart
from langchain_hf_spaces._request_log import REQUEST_LOGGER
from langchain_hf_spaces.testing import Fault, LocalSpace
from tests.conftest import PLANTED_TOKEN

FIELDS = (
    "operation",
    "tier",
    "variant",
    "profile",
    "url",
    "protocol",
    "model",
    "stream",
    "status",
    "error_type",
    "latency",
    "attempts",
    "retries",
    "waited",
    "prompt_tokens",
    "completion_tokens",
    "cached",
)
SECRET_PROMPT = "my secret medical question"


@pytest.fixture(scope="module")
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="logged", token=PLANTED_TOKEN) as s:
        yield s


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)
    return caplog


def _requests(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == REQUEST_LOGGER]


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: getattr(record, k)
        for k in (*FIELDS, "prompt", "completion", "ttft")
        if hasattr(record, k)
    }


def config(space: LocalSpace, **kw: Any) -> SpaceConfig:
    return SpaceConfig(
        url=space.url, protocol="tgi", token=PLANTED_TOKEN, retry_initial_delay=0.01, **kw
    )


def _everything(record: logging.LogRecord) -> str:
    return record.getMessage() + json.dumps(_fields(record), default=str)


def test_one_record_per_call_with_the_facts_and_never_the_token_or_prompt(
    space: LocalSpace, records: pytest.LogCaptureFixture
) -> None:
    settings = SpacesSettings(tiers={"base": config(space, model="tiny")})
    space.inject(Fault.server_error(500))
    with SpacesClient(settings, cache=MemoryCache()) as spaces:  # default observers: the log
        answer = spaces.complete(SECRET_PROMPT, seed=1)
        spaces.complete(SECRET_PROMPT, seed=1)
    first, second = _requests(records)
    f = _fields(first)
    assert first.levelno == logging.INFO
    assert set(FIELDS) <= set(f) and "prompt" not in f and "completion" not in f
    assert f["operation"] == "text_completion" and f["tier"] == "base"
    assert (f["url"], f["protocol"], f["model"]) == (space.url, "tgi", "tiny")
    assert (f["status"], f["error_type"], f["cached"]) == ("ok", None, False)
    assert f["attempts"] == answer.attempts == 2 and f["retries"] == 1 and f["waited"] > 0
    assert f["completion_tokens"] == answer.completion_tokens
    assert f["latency"] > 0 and f["stream"] is False
    assert _fields(second)["cached"] is True
    msg = first.getMessage()
    assert msg.startswith(f"text_completion base {space.url} (tgi): ok, ")
    assert "attempts=2" in msg and " ms" in msg and "cached" in second.getMessage()
    for record in (first, second):
        text = _everything(record)
        assert PLANTED_TOKEN not in text and PLANTED_TOKEN[3:] not in text
        assert SECRET_PROMPT not in text
    json.dumps(f)  # JSON data, for a JSON log formatter


def test_a_failed_call_is_logged_with_its_error_type(
    space: LocalSpace, records: pytest.LogCaptureFixture
) -> None:
    space.inject(Fault.server_error(500))
    with (
        SpaceClient(config(space, max_retries=0), tier="company") as c,
        pytest.raises(SpaceUnavailableError),
    ):
        c.complete("Hi")
    (record,) = _requests(records)
    f = _fields(record)
    assert (f["status"], f["error_type"], f["attempts"], f["tier"]) == (
        "error",
        "SpaceUnavailableError",
        None,
        "company",
    )
    assert "error SpaceUnavailableError" in record.getMessage()
    assert PLANTED_TOKEN not in _everything(record)


def test_prompts_and_answers_only_when_opted_in(
    space: LocalSpace, records: pytest.LogCaptureFixture
) -> None:
    logger = [RequestLogger(log_prompts=True)]
    with SpaceClient(config(space), observers=logger) as c:
        answer = c.complete(SECRET_PROMPT)
    with SpaceClient(config(space).updated(protocol="openai"), observers=logger) as c:
        chunks = list(c.chat_stream_chunks([{"role": "user", "content": SECRET_PROMPT}]))
    text, chat = (_fields(r) for r in _requests(records))
    assert (text["prompt"], text["completion"]) == (SECRET_PROMPT, answer.text)
    assert SECRET_PROMPT in chat["prompt"] and chat["operation"] == "chat"
    assert chat["stream"] is True and chat["completion"] == chunks[-1].answer.text  # type: ignore[union-attr]
    assert PLANTED_TOKEN not in _everything(_requests(records)[0])


async def test_async_and_streamed_calls_are_logged(
    space: LocalSpace, records: pytest.LogCaptureFixture
) -> None:
    async with SpaceClient(config(space)) as c:
        await c.acomplete("Hi")
        stream = c.astream_chunks("Tell a long story", max_new_tokens=30)
        assert (await stream.__anext__()).text
        await stream.aclose()  # left early
    done, left = (_fields(r) for r in _requests(records))
    assert done["status"] == "ok" and done["stream"] is False
    assert (left["status"], left["stream"]) == ("abandoned", True)
    assert left["ttft"] is not None and left["ttft"] >= 0


def test_nothing_is_done_while_the_logger_is_off(space: LocalSpace) -> None:
    logger = logging.getLogger(REQUEST_LOGGER)
    assert not logger.isEnabledFor(logging.INFO)  # the default: WARNING from the root
    call = CallStart("chat", "base", space.url, "tgi", None)
    assert RequestLogger().start(call) is NOOP_SCOPE
    assert RequestLogger(level=logging.WARNING).start(call) is not NOOP_SCOPE


def test_another_logger_and_level(space: LocalSpace, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="myapp.spaces")
    mine = RequestLogger(logger="myapp.spaces", level=logging.DEBUG)
    with SpaceClient(config(space), observers=[mine]) as c:
        c.complete("Hi")
    (record,) = [r for r in caplog.records if r.name == "myapp.spaces"]
    assert record.levelno == logging.DEBUG and record.status == "ok"  # type: ignore[attr-defined]
    assert "log_prompts=False" in repr(mine)
