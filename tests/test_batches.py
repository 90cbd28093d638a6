"""Batches against real servers: a real gradio 6 app with a tiny queue, a TGI-like LocalSpace
refusing past its capacity; sync and async. No timing is asserted (see ``benchmarks/``); the
limiter's own logic is tested on a simulated Space in ``test_limiter.py``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from langchain_hf_spaces import (
    SpaceAnswer,
    SpaceClient,
    SpaceConfig,
    SpaceInputError,
    SpaceRateLimitError,
    SpaceResponseError,
    SpacesClient,
    SpacesSettings,
)
from langchain_hf_spaces._limiter import forget_limiters, limiter_for
from langchain_hf_spaces.testing import Fault, LocalSpace, ResponderError

FAST = {"retry_initial_delay": 0.01, "retry_max_delay": 0.05}


@pytest.fixture(autouse=True)
def _fresh_limiters() -> Iterator[None]:
    forget_limiters()
    yield
    forget_limiters()


def slow_echo(seconds: float = 0.03) -> Any:
    def answer(prompt: str, parameters: dict[str, Any]) -> str:
        time.sleep(seconds)
        if prompt.startswith("fail"):
            raise ResponderError("this prompt breaks the model", status=400)
        return f"answer to {prompt}"

    return answer


def texts(results: list[Any]) -> list[str]:
    assert all(isinstance(r, SpaceAnswer) for r in results), results
    return [r.text for r in results]


# ---------------------------------------------------------------------- a real Gradio app
@pytest.fixture(scope="module")
def tiny_gradio() -> Iterator[str]:
    """A real gradio 6 app running one call at a time (``concurrency_limit=1``) with a queue
    of three (``max_size=3``), each call taking 0.1 s."""
    from tests.support.gradio_app import running_gradio_app

    with running_gradio_app(slow=0.1, queue_size=3) as url:
        yield url


@pytest.mark.parametrize("n", [6, 12])
def test_a_gradio_app_with_one_slot_and_a_queue_of_three_loses_no_prompt(
    n: int, tiny_gradio: str
) -> None:
    """The issue's case: n prompts at once through ``abatch``: every one answered, in order
    (today 2 of 6 were lost)."""
    client = SpaceClient(
        SpaceConfig(url=tiny_gradio, protocol="gradio", api_name="/predict", **FAST)
    )
    prompts = [f"p{i}" for i in range(n)]
    results = asyncio.run(client.abatch(prompts, max_new_tokens=8))
    assert texts(results) == [f"Gradio answer to: p{i}" for i in range(n)]
    limiter = limiter_for(tiny_gradio)
    assert limiter.overloads >= 1  # the queue did fill: the retries are what saved them
    assert limiter.limit <= 4 and limiter.inflight == 0


def test_a_gradio_app_with_a_full_queue_sync_batch(tiny_gradio: str) -> None:
    client = SpaceClient(
        SpaceConfig(url=tiny_gradio, protocol="gradio", api_name="/predict", **FAST)
    )
    results = client.batch([f"s{i}" for i in range(8)], max_new_tokens=8)
    assert texts(results) == [f"Gradio answer to: s{i}" for i in range(8)]
    assert limiter_for(tiny_gradio).overloads >= 1


def test_waits_in_the_gradio_queue_are_counted_for_the_progress_line(tiny_gradio: str) -> None:
    """Three prompts at once on the app that runs one at a time: the ones that waited in its
    queue (Gradio reported their position) are counted."""
    from langchain_hf_spaces._batch import Batch

    client = SpaceClient(
        SpaceConfig(url=tiny_gradio, protocol="gradio", api_name="/predict", **FAST)
    )
    batch = Batch(client, max_concurrency=3, size=3)
    out = asyncio.run(batch.amap(3, lambda i: client.acomplete(f"q{i}", max_new_tokens=8)))
    assert [a.text for a in out] == [f"Gradio answer to: q{i}" for i in range(3)]
    assert batch.stats.answered == 3
    assert 1 <= batch.stats.queue_waits <= 2
    assert "queue waits" in batch.stats.line()


# ---------------------------------------------------------------------- a TGI-like Space
def test_tgi_info_bounds_the_limit_and_nothing_is_lost() -> None:
    """A TGI Space reporting ``max_concurrent_requests=3`` (and refusing past it with 429
    ``error_type: overloaded``): the limit starts there and never passes it."""
    with LocalSpace(responder=slow_echo(), max_concurrent=3) as space:
        client = SpaceClient(SpaceConfig(url=space.url, protocol="tgi", **FAST))
        results = asyncio.run(client.abatch([f"t{i}" for i in range(30)], max_new_tokens=8))
        assert texts(results) == [f"answer to t{i}" for i in range(30)]
        limiter = limiter_for(space.url)
        assert limiter.ceiling == 3 and limiter.limit <= 3
        assert limiter.hint is not None and limiter.hint.source == "TGI /info"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_429_past_the_capacity_is_retried_not_lost(mode: str) -> None:
    """No ``/info`` (the guide's protocol): the limit starts high, the Space refuses past two
    at once, the limit comes down, and every prompt is answered."""
    with LocalSpace(responder=slow_echo(), max_concurrent=2) as space:
        client = SpaceClient(SpaceConfig(url=space.url, protocol="generate", **FAST))
        prompts = [f"g{i}" for i in range(24)]
        if mode == "sync":
            results = client.batch(prompts, max_new_tokens=8, max_concurrency=12)
        else:
            results = asyncio.run(client.abatch(prompts, max_new_tokens=8, max_concurrency=12))
        assert texts(results) == [f"answer to g{i}" for i in range(24)]
        refused = [r for r in space.requests if r.path == "/api/generate"]
        assert len(refused) > 24  # some were refused (429) and sent again
        limiter = limiter_for(space.url)
        assert limiter.overloads == len(refused) - 24
        assert limiter.limit < 12


def test_the_local_space_refuses_like_tgi_past_max_concurrent() -> None:
    import httpx

    with LocalSpace(responder=slow_echo(0.3), max_concurrent=1) as space:

        async def two() -> list[httpx.Response]:
            async with httpx.AsyncClient() as http:
                body = {"inputs": "x", "parameters": {"max_new_tokens": 2}}
                return list(
                    await asyncio.gather(
                        *(http.post(space.url + "/generate", json=body) for _ in range(2))
                    )
                )

        answers = sorted(asyncio.run(two()), key=lambda r: r.status_code)
        assert [r.status_code for r in answers] == [200, 429]
        assert answers[1].json() == {"error": "Model is overloaded", "error_type": "overloaded"}
        assert httpx.get(space.url + "/info").json()["max_concurrent_requests"] == 1
    with pytest.raises(ValueError, match="max_concurrent"):
        LocalSpace(max_concurrent=0)


def test_pinned_mode_keeps_its_limit_and_still_loses_nothing() -> None:
    """``adaptive=False``: exactly ``max_concurrency`` at once; the shared limiter is not
    touched; overload answers are retried all the same."""
    with LocalSpace(responder=slow_echo(), max_concurrent=1) as space:
        client = SpaceClient(SpaceConfig(url=space.url, protocol="generate", **FAST))
        results = client.batch(
            [f"f{i}" for i in range(8)], max_concurrency=3, adaptive=False, max_new_tokens=8
        )
        assert texts(results) == [f"answer to f{i}" for i in range(8)]
        assert limiter_for(space.url).overloads == 0  # the pinned batch has its own
        assert len([r for r in space.requests if r.path == "/api/generate"]) > 8


# ---------------------------------------------------------------------- deadlines, failures
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_space_that_stays_overloaded_fails_the_prompt_at_its_deadline(mode: str) -> None:
    with LocalSpace(responder=slow_echo(0.0)) as space:
        space.inject(Fault.rate_limited(retry_after=None), times=None)
        config = SpaceConfig(
            url=space.url, protocol="generate", retry_initial_delay=0.05, retry_max_delay=0.2
        )
        client = SpaceClient(config)
        if mode == "sync":
            results = client.batch(["a", "b"], timeout=2, return_exceptions=True)
        else:
            results = asyncio.run(client.abatch(["a", "b"], timeout=2, return_exceptions=True))
        for err in results:
            assert isinstance(err, SpaceRateLimitError)
            assert "timeout=2s" in err.message and err.url == space.url
            assert err.hint and "timeout=" in err.hint
        assert len(space.requests) > 4  # retried while the deadline allowed


def test_retry_after_longer_than_max_retry_after_is_not_waited_for() -> None:
    with LocalSpace() as space:
        space.inject(Fault.rate_limited(retry_after="600"), times=None)
        client = SpaceClient(SpaceConfig(url=space.url, protocol="generate", **FAST))
        with pytest.raises(SpaceRateLimitError, match="max_retry_after") as info:
            client.batch(["a"])
        assert info.value.retry_after == 600


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_other_failures_are_not_retried_and_the_first_raises(mode: str) -> None:
    with LocalSpace(responder=slow_echo(0.01)) as space:
        client = SpaceClient(SpaceConfig(url=space.url, protocol="tgi", **FAST))
        prompts = ["ok 1", "fail 2", "ok 3"]
        if mode == "sync":
            kept = client.batch(prompts, return_exceptions=True, max_new_tokens=4)
            with pytest.raises(SpaceResponseError):
                client.batch(prompts, max_new_tokens=4)
        else:
            kept = asyncio.run(client.abatch(prompts, return_exceptions=True, max_new_tokens=4))
            with pytest.raises(SpaceResponseError):
                asyncio.run(client.abatch(prompts, max_new_tokens=4))
        assert isinstance(kept[1], SpaceResponseError) and kept[1].status_code == 400
        assert [k.text for k in (kept[0], kept[2])] == ["answer to ok 1", "answer to ok 3"]  # type: ignore[union-attr]
        assert sum(1 for r in space.requests if r.json and r.json.get("inputs") == "fail 2") == 2


def test_bad_input_is_refused_before_anything_is_sent() -> None:
    with LocalSpace() as space:
        client = SpaceClient(SpaceConfig(url=space.url, protocol="generate"))
        with pytest.raises(SpaceInputError, match="list of strings"):
            client.batch("one prompt")  # type: ignore[arg-type]
        with pytest.raises(SpaceInputError, match=r"prompts\[1\]"):
            client.batch(["fine", 42])  # type: ignore[list-item]
        with pytest.raises(SpaceInputError, match="max_concurrency"):
            client.batch(["a"], max_concurrency=0)
        with pytest.raises(SpaceInputError, match="timeout"):
            client.batch(["a"], timeout=-1)
        with pytest.raises(SpaceInputError, match="adaptive"):
            client.batch(["a"], adaptive="no")  # type: ignore[arg-type]
        assert client.batch([]) == []
        assert space.requests == []


def test_spaces_client_batches_on_a_tier() -> None:
    with LocalSpace(name="company", responder=slow_echo(0.01), max_concurrent=2) as space:
        settings = SpacesSettings(
            tiers={"base": SpaceConfig(url=space.url, protocol="generate", **FAST)}
        )
        with SpacesClient(settings) as spaces:
            results = spaces.batch([f"c{i}" for i in range(10)], "base", max_new_tokens=4)
            assert texts(results) == [f"answer to c{i}" for i in range(10)]
            more = asyncio.run(spaces.abatch(["x", "y"], max_new_tokens=4))
            assert texts(more) == ["answer to x", "answer to y"]
            assert all(r.tier == "base" for r in results)


def test_variations_survive_a_space_that_refuses_past_its_capacity() -> None:
    with LocalSpace(max_concurrent=2) as space:
        client = SpaceClient(SpaceConfig(url=space.url, protocol="tgi", **FAST))
        out = client.generate_variations("Name a colour", 8, unique=False, max_new_tokens=4)
        assert len(out) == 8 and all(isinstance(t, str) for t in out)
        out = asyncio.run(
            client.agenerate_variations("Name a colour", 8, unique=False, max_new_tokens=4)
        )
        assert len(out) == 8 and all(isinstance(t, str) for t in out)


# ---------------------------------------------------------------------- LangChain
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_langchain_llm_batch_goes_through_the_limit(mode: str) -> None:
    """``batch``/``abatch`` of the LLM against a Space refusing past two calls: every prompt
    answered (the refusals were retried), never more than ``max_concurrency`` at once."""
    from langchain_hf_spaces import HuggingFaceSpaceLLM

    with LocalSpace(responder=slow_echo(), max_concurrent=2) as space:
        llm = HuggingFaceSpaceLLM(
            space=SpaceConfig(url=space.url, protocol="generate", **FAST), max_new_tokens=8
        )
        prompts = [f"l{i}" for i in range(12)]
        config = {"max_concurrency": 5}
        if mode == "sync":
            out = llm.batch(prompts, config=config)
            kept = llm.batch(["x", "fail y"], return_exceptions=True)
        else:
            out = asyncio.run(llm.abatch(prompts, config=config))
            kept = asyncio.run(llm.abatch(["x", "fail y"], return_exceptions=True))
        assert out == [f"answer to l{i}" for i in range(12)]
        assert kept[0] == "answer to x" and isinstance(kept[1], SpaceResponseError)
        sent = [r for r in space.requests if r.path == "/api/generate"]
        assert len(sent) > 14  # refused ones were sent again
        assert space.peak_concurrency <= 5 + 1  # the cap (+ a refused one leaving)
        assert limiter_for(space.url).overloads == len(sent) - 14


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_langchain_chat_batch_goes_through_the_limit(mode: str) -> None:
    from langchain_hf_spaces import ChatHuggingFaceSpace

    with LocalSpace(responder=slow_echo(), max_concurrent=2) as space:
        chat = ChatHuggingFaceSpace(
            space=SpaceConfig(url=space.url, protocol="openai", **FAST), max_new_tokens=8
        )
        prompts = [f"c{i}" for i in range(10)]
        if mode == "sync":
            out = chat.batch(prompts, config={"max_concurrency": 4})
        else:
            out = asyncio.run(chat.abatch(prompts, config={"max_concurrency": 4}))
        assert len(out) == 10  # in order, each answering its own message
        for i, message in enumerate(out):
            assert isinstance(message.content, str) and message.content.startswith("answer to")
            assert f"\nc{i}<" in message.content
        assert limiter_for(space.url).overloads >= 1


def test_langchain_max_concurrency_is_the_cap() -> None:
    from langchain_hf_spaces import HuggingFaceSpaceLLM

    with LocalSpace(responder=slow_echo(0.05)) as space:
        llm = HuggingFaceSpaceLLM(space_url=space.url, max_new_tokens=8)
        out = asyncio.run(llm.abatch([f"m{i}" for i in range(9)], config={"max_concurrency": 3}))
        assert out == [f"answer to m{i}" for i in range(9)]
        assert space.peak_concurrency <= 3
        assert limiter_for(space.url).overloads == 0


# ---------------------------------------------------------------------- hf-spaces batch
@pytest.mark.parametrize("fixed", [False, True])
def test_the_cli_batch_loses_nothing_and_reports_its_limit(
    fixed: bool,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``hf-spaces batch`` against a Space refusing past one call: every line answered, and
    the progress line shows goodput, the current limit, queue waits and retries."""
    import json
    import os
    import re

    from langchain_hf_spaces.cli import main

    for name in list(os.environ):
        if name.startswith(("HF_SPACES_", "HF_TOKEN")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    with LocalSpace(responder=slow_echo(), max_concurrent=1) as space:
        (tmp_path / "hf-spaces.toml").write_text(
            f'version = 1\n\n[tiers.base]\nurl = "{space.url}"\nretry_initial_delay = 0.01\n'
            "retry_max_delay = 0.05\n",
            encoding="utf-8",
        )
        (tmp_path / "prompts.txt").write_text(
            "".join(f"line {i}\n" for i in range(8)), encoding="utf-8"
        )
        extra = ["--fixed", "--concurrency", "3"] if fixed else ["--concurrency", "6"]
        assert main(["batch", "prompts.txt", *extra]) == 0
        refused = len(space.requests) - 8
    _, err = capsys.readouterr()
    records = [
        json.loads(ln)
        for ln in (tmp_path / "prompts.results.jsonl").read_text("utf-8").splitlines()
    ]
    assert [r["text"] for r in records] == [f"answer to line {i}" for i in range(8)]
    found = re.search(
        r"8/8 100%  0 failed  \S+s  ([0-9.]+) answers/s  limit (\d+)  (\d+) queue waits  "
        r"(\d+) retries",
        err,
    )
    assert found is not None, err
    assert float(found[1]) > 0 and int(found[3]) == 0
    assert int(found[4]) == refused >= 1
    if fixed:
        assert int(found[2]) == 3
    else:
        assert 1 <= int(found[2]) <= 6


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_call_made_inside_a_batch_call_rides_on_its_permit(mode: str) -> None:
    """A limit of 1, and a call that makes another one while it holds the only permit (a
    LangChain batch whose callback asks the Space): it must not wait for itself."""
    import threading

    from langchain_hf_spaces._batch import Batch

    with LocalSpace() as space:
        client = SpaceClient(SpaceConfig(url=space.url, protocol="generate"))
        batch = Batch(client, max_concurrency=1, adaptive=False)
        got: list[Any] = []

        def run() -> None:
            if mode == "sync":
                got.append(batch.call(lambda: batch.call(lambda: client.complete("inner"))))
            else:

                async def inner() -> SpaceAnswer:
                    return await batch.acall(lambda: client.acomplete("inner"))

                got.append(asyncio.run(batch.acall(inner)))

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(60)
        assert not worker.is_alive(), "the inner call waited for the outer call's permit"
        assert got and got[0].text.startswith("Demo answer from base")
