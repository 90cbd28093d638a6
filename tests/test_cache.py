"""The response cache: what the key covers, LRU and TTL, deterministic calls only, streams
replayed, errors and tokens never stored, SQLite shared across processes; sync and async.

Calls go to a real LocalSpace on loopback, whose request log says whether a call reached it.
"""

from __future__ import annotations

import asyncio
import copy
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from langchain_hf_spaces import (
    MemoryCache,
    SpaceAnswer,
    SpaceClient,
    SpaceConfig,
    SpaceConfigError,
    SpacesClient,
    SpacesSettings,
    SpaceUnavailableError,
    SQLiteCache,
    StreamChunk,
)
from langchain_hf_spaces._cache import is_deterministic, request_key
from langchain_hf_spaces._flow import ChatCall, SpaceCore, TextCall
from langchain_hf_spaces.testing import Fault, LocalSpace
from tests.conftest import PLANTED_TOKEN

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="cache") as s:
        yield s


@pytest.fixture(scope="module")
def private() -> Iterator[LocalSpace]:
    with LocalSpace(name="private", token=PLANTED_TOKEN) as s:
        yield s


def client(space: LocalSpace, cache: Any, **cfg: Any) -> SpaceClient:
    config = SpaceConfig(url=space.url, protocol="tgi", max_retries=0, **cfg)
    return SpaceClient(config, cache=cache, observers=[])


def answer(text: str = "hi") -> SpaceAnswer:
    return SpaceAnswer(text, "base", "https://a.hf.space", None, "tgi", 0.1, 1)


# ------------------------------------------------------------------------------ the key
def _key(cfg: dict[str, Any] | None = None, tier: str = "base", **call: Any) -> str | None:
    config = SpaceConfig(**{"url": "https://acme-base.hf.space", **(cfg or {})})
    core = SpaceCore(config, tier)
    if "messages" in call:
        return request_key(
            core,
            ChatCall(
                call["messages"], call.get("params", {}), call.get("tools"), call.get("choice")
            ),
        )
    prompt, params = core.validate(call.get("prompt", "Hi"), call.get("context"), {})
    params.update(call.get("params", {}))
    return request_key(core, TextCall(prompt, params, call.get("hints")))


def test_every_field_that_changes_the_answer_changes_the_key() -> None:
    base = _key()
    changed = {
        "tier": _key(tier="company"),
        "url": _key({"url": "https://acme-other.hf.space"}),
        "endpoint": _key({"endpoint": "/v1/generate"}),
        "protocol": _key({"protocol": "tgi"}),
        "revision": _key({"revision": "abc123"}),
        "model": _key({"model": "llama"}),
        "api_name": _key({"api_name": "/chat"}),
        "prompt": _key(prompt="Hello"),
        "context": _key(context={"industry": "tea"}),
        "parameters": _key(params={"seed": 1}),
        "a parameter's value": _key(params={"seed": 2}),
        "hints": _key(hints={"seed": 3, "do_sample": True}),
    }
    msgs = [{"role": "user", "content": "Hi"}]
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    chat = _key(messages=msgs)
    chats = {
        "messages": _key(messages=[{"role": "user", "content": "Hello"}]),
        "tools": _key(messages=msgs, tools=[tool]),
        "tool_choice": _key(messages=msgs, choice="none"),
    }
    keys = [base, chat, *changed.values(), *chats.values()]
    assert all(isinstance(k, str) and len(k) == 64 for k in keys)
    assert len(set(keys)) == len(keys), "a changed field must change the key"
    assert _key() == base  # and the same call has the same key


def test_the_key_leaves_out_the_token_and_what_does_not_change_the_answer() -> None:
    base = _key()
    assert _key({"token": PLANTED_TOKEN}) == base
    assert _key({"token": "hf_another"}) == base
    assert _key({"read_timeout": 5.0, "max_retries": 0, "wake_timeout": 1.0}) == base
    core = SpaceCore(SpaceConfig(url="https://acme-base.hf.space"), "base")
    prompt, params = core.validate("Hi", None, {"timeout": 30, "x_ip_token": "ip-secret"})
    assert request_key(core, TextCall(prompt, params)) == base


def test_which_calls_are_deterministic() -> None:
    assert is_deterministic({"temperature": 0})
    assert is_deterministic({"temperature": 0.0, "top_p": 0.9})
    assert is_deterministic({"do_sample": False, "temperature": 0.7})
    assert is_deterministic({"seed": 0})
    assert is_deterministic({}, {"seed": 4, "do_sample": True})  # a variation's own seed
    assert not is_deterministic({})
    assert not is_deterministic({"temperature": 0.7, "do_sample": True})
    assert not is_deterministic({"seed": None})


# ------------------------------------------------------------------- memory: LRU and TTL
def test_memory_cache_evicts_the_least_recently_used() -> None:
    cache = MemoryCache(max_entries=2)
    cache.set("a", answer("A"))
    cache.set("b", answer("B"))
    assert cache.get("a") == answer("A")  # a is now the most recent
    cache.set("c", answer("C"))
    assert cache.get("b") is None
    assert [cache.get(k) for k in ("a", "c")] == [answer("A"), answer("C")]
    assert len(cache) == 2


def test_memory_and_sqlite_entries_expire_after_ttl(tmp_path: Path) -> None:
    now = [1000.0]
    for cache in (
        MemoryCache(ttl=10, clock=lambda: now[0]),
        SQLiteCache(tmp_path / "c.db", ttl=10, clock=lambda: now[0]),
    ):
        now[0] = 1000.0
        cache.set("k", answer())
        now[0] = 1009.9
        assert cache.get("k") == answer(), cache
        now[0] = 1010.0
        assert cache.get("k") is None, cache
        assert len(cache) == 0  # an expired entry met is deleted


def test_bad_cache_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryCache(max_entries=0)
    with pytest.raises(ValueError, match="ttl"):
        SQLiteCache("x.db", ttl=-1)
    with pytest.raises(SpaceConfigError, match="not a response cache") as info:
        SpaceClient(SpaceConfig(url="https://acme-base.hf.space"), cache={})  # type: ignore[arg-type]
    assert info.value.tier == "base" and info.value.hint


# ------------------------------------------------------------- through a real client
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_deterministic_call_is_asked_once(kind: str, space: LocalSpace, tmp_path: Path) -> None:
    cache = MemoryCache() if kind == "memory" else SQLiteCache(tmp_path / "c.db")
    with client(space, cache) as c:
        space.clear_requests()
        first = c.complete("Name a tea", seed=7)
        second = c.complete("Name a tea", seed=7)
        assert len(space.requests) == 1
        assert not first.cached and second.cached and second.metadata["cached"] is True
        assert second.text == first.text and second.url == first.url
        assert c.complete("Name a tea", seed=8).text != first.text  # another seed: asked
        assert c.complete("Name a coffee", seed=7).text != first.text
        assert len(space.requests) == 3


def test_sampled_calls_are_not_cached_unless_asked(space: LocalSpace) -> None:
    with client(space, MemoryCache()) as c:
        space.clear_requests()
        c.complete("Name a tea")
        c.complete("Name a tea")
        assert len(space.requests) == 2
    with client(space, MemoryCache(deterministic_only=False)) as c:
        space.clear_requests()
        assert not c.complete("Name a tea").cached
        assert c.complete("Name a tea").cached
        assert len(space.requests) == 1


def test_errors_are_never_cached(space: LocalSpace) -> None:
    cache = MemoryCache()
    with client(space, cache) as c:
        space.inject(Fault.server_error(500))
        with pytest.raises(SpaceUnavailableError):
            c.complete("Name a tea", seed=11)
        assert len(cache) == 0
        space.clear_requests()
        assert not c.complete("Name a tea", seed=11).cached  # the Space is asked again
        assert c.complete("Name a tea", seed=11).cached
        assert len(space.requests) == 1


def test_a_stream_is_cached_and_replayed_as_one_chunk(space: LocalSpace) -> None:
    with client(space, MemoryCache()) as c:
        space.clear_requests()
        live = list(c.stream_chunks("Tell a story", seed=3, max_new_tokens=12))
        assert len([ch for ch in live if ch.text]) > 1  # it really streamed
        text = "".join(ch.text for ch in live)
        replay = list(c.stream_chunks("Tell a story", seed=3, max_new_tokens=12))
        final = replay[-1].answer
        assert final is not None and final.cached and final.text == text
        assert replay == [StreamChunk(text), StreamChunk("", final)]
        assert "".join(c.stream("Tell a story", seed=3, max_new_tokens=12)) == text
        # A stream and a plain call of the same prompt are the same answer.
        assert c.complete("Tell a story", seed=3, max_new_tokens=12).cached
        assert [r.path for r in space.requests] == ["/generate_stream"]


def test_test_connection_always_asks_the_space(space: LocalSpace) -> None:
    cache = MemoryCache(deterministic_only=False)
    with client(space, cache) as c:
        assert c.test_connection().ok
        space.clear_requests()
        assert c.test_connection().ok
        assert len(space.requests) == 1 and len(cache) == 0


def test_tiers_share_one_cache_but_never_each_others_answers(
    space: LocalSpace, tmp_path: Path
) -> None:
    cfg = {"url": space.url, "protocol": "tgi"}
    settings = SpacesSettings(tiers={"base": SpaceConfig(**cfg), "company": SpaceConfig(**cfg)})
    with SpacesClient(settings, cache=SQLiteCache(tmp_path / "c.db")) as spaces:
        space.clear_requests()
        assert not spaces.complete("Hi", "base", seed=1).cached
        assert not spaces.complete("Hi", "company", seed=1).cached  # the key holds the tier
        hit = spaces.complete("Hi", "company", seed=1)
        assert hit.cached and hit.tier == "company"
        assert len(space.requests) == 2


def test_the_token_is_never_stored(private: LocalSpace, tmp_path: Path) -> None:
    path = tmp_path / "answers.db"
    with client(private, SQLiteCache(path), token=PLANTED_TOKEN) as c:
        c.complete("Name a tea", seed=1)
        assert c.complete("Name a tea", seed=1).cached
        list(c.stream_chunks("Name a coffee", seed=1))
    files = [p for p in tmp_path.iterdir() if p.name.startswith("answers.db")]
    assert files
    for p in files:
        data = p.read_bytes()
        assert PLANTED_TOKEN.encode() not in data, p
        assert PLANTED_TOKEN[3:].encode() not in data, p


def test_copies_keep_their_cache(space: LocalSpace, tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with client(space, SQLiteCache(path)) as c:
        c.complete("Copy me", seed=5)
        twin = copy.deepcopy(c)
    assert isinstance(twin.cache, SQLiteCache) and twin.cache.path == path
    with twin:
        assert twin.complete("Copy me", seed=5).cached
    assert copy.deepcopy(MemoryCache(max_entries=3)).max_entries == 3


def test_a_variation_seed_is_part_of_the_key(space: LocalSpace) -> None:
    cache = MemoryCache()
    with client(space, cache) as c:
        space.clear_requests()
        first = c.generate_variations("A slogan", 3, seed=100)
        assert len(space.requests) == 3 and len(cache) == 3
        assert c.generate_variations("A slogan", 3, seed=100) == first
        assert len(space.requests) == 3  # each seed's answer was stored


# ---------------------------------------------------------------------------- async
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_async_calls_and_streams_use_the_cache(
    kind: str, space: LocalSpace, tmp_path: Path
) -> None:
    cache = MemoryCache() if kind == "memory" else SQLiteCache(tmp_path / "c.db")
    async with client(space, cache) as c:
        space.clear_requests()
        first = await c.acomplete("Name a tea", seed=21)
        assert (await c.acomplete("Name a tea", seed=21)).cached
        # What the sync path stored, the async path finds, and the other way round.
        assert c.complete("Name a tea", seed=21).cached
        live = [ch async for ch in c.astream_chunks("Tell a tale", seed=2)]
        replay = [ch async for ch in c.astream_chunks("Tell a tale", seed=2)]
        final = replay[-1].answer
        assert final is not None and final.cached
        assert replay[0].text == "".join(ch.text for ch in live) == final.text
        both = await asyncio.gather(*(c.acomplete("Name a tea", seed=21) for _ in range(5)))
        assert all(a.cached and a.text == first.text for a in both)
        assert len(space.requests) == 2


def test_import_does_not_load_sqlite3() -> None:
    code = "import sys, langchain_hf_spaces; print('sqlite3' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------- across processes
_WRITER = textwrap.dedent(
    """
    import sys
    from langchain_hf_spaces import SQLiteCache, SpaceAnswer

    path, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cache = SQLiteCache(path)
    for i in range(n):
        a = SpaceAnswer(f"{name} {i}", "base", "https://a.hf.space", None, "tgi", 0.1, 1)
        cache.set(f"{name}-{i}", a)
        cache.set("shared", a)
        assert cache.get(f"{name}-{i}").text == f"{name} {i}"
    print("done")
    """
)


def test_concurrent_writers_in_several_processes_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), name, "150"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("p1", "p2", "p3")
    ]
    for w in writers:
        out, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
        assert out.strip() == "done"
    cache = SQLiteCache(path)
    assert len(cache) == 3 * 150 + 1
    for name in ("p1", "p2", "p3"):
        got = cache.get(f"{name}-149")
        assert got is not None and got.text == f"{name} 149"
    shared = cache.get("shared")
    assert shared is not None and shared.text.endswith(" 149")


_READER = textwrap.dedent(
    """
    import sys
    from langchain_hf_spaces import SQLiteCache, SpaceClient, SpaceConfig

    url, path = sys.argv[1], sys.argv[2]
    config = SpaceConfig(url=url, protocol="tgi")
    with SpaceClient(config, cache=SQLiteCache(path), observers=[]) as client:
        answer = client.complete("Across processes", seed=9)
    print(answer.cached, answer.text, sep="\\t")
    """
)


def test_an_answer_stored_by_one_process_is_read_by_another(
    space: LocalSpace, tmp_path: Path
) -> None:
    path = tmp_path / "shared.db"
    with client(space, SQLiteCache(path)) as c:
        stored = c.complete("Across processes", seed=9)
    space.clear_requests()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", _READER, space.url, str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip("\n") == f"True\t{stored.text}"
    assert space.requests == []  # the other process never asked the Space
