"""A/B splits within a tier: settings, the sticky choice, routing, fallback, frameworks.

The choice itself (``_ab``) is tested as pure logic, with hypothesis: one key always lands on one
variant, in this process and in another one, and the shares match the weights over 10,000 keys.
Everything that sends a request runs against real ``LocalSpace`` servers on loopback, sync and
async: the answer's ``variant`` names the Space that answered, and the servers' request logs
prove it.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_hf_spaces import (
    SpaceConfig,
    SpaceConfigError,
    SpaceInputError,
    SpacesClient,
    SpacesSettings,
    SpaceUnavailableError,
    SpaceVariant,
)
from langchain_hf_spaces._ab import Split, bucket, check_key, default_names
from langchain_hf_spaces.testing import Fault, LocalSpace

ROOT = Path(__file__).resolve().parent.parent
KEYS = [f"user-{i}" for i in range(10_000)]
FAST: dict[str, Any] = {"max_retries": 0, "wake_timeout": 0.2, "wake_poll_interval": 0.05}


def shares(split: Split[str], keys: list[str]) -> dict[str, float]:
    counts = Counter(split.pick(k).name for k in keys)
    return {name: counts[name] / len(keys) for name in split.names}


def tolerance(p: float, n: int) -> float:
    """Five standard deviations of a share ``p`` over ``n`` draws (a false alarm ~1e-6)."""
    return 5 * (p * (1 - p) / n) ** 0.5 + 1e-9


# ------------------------------------------------------------------------------ the choice
tiers = st.from_regex(r"[a-z][a-z0-9_-]{0,12}", fullmatch=True)
ab_keys = st.text(st.characters(exclude_categories=()), min_size=1, max_size=40).filter(
    lambda k: k.strip() != ""
)


@given(tier=tiers, key=ab_keys, weights=st.lists(st.integers(1, 100), min_size=2, max_size=5))
def test_one_key_always_lands_on_one_variant(tier: str, key: str, weights: list[int]) -> None:
    names = default_names(len(weights))
    split = Split(tier, [(n, w, n) for n, w in zip(names, weights, strict=True)])
    again = Split(tier, [(n, w, n) for n, w in zip(names, weights, strict=True)])
    first = split.pick(key).name
    assert all(split.pick(key).name == first for _ in range(3))
    assert again.pick(key).name == first
    assert 0.0 <= bucket(tier, key) < 1.0


@settings(max_examples=20)
@given(tier=tiers, weights=st.lists(st.integers(0, 100), min_size=2, max_size=4))
def test_sticky_shares_match_the_weights_over_10000_keys(tier: str, weights: list[int]) -> None:
    if sum(weights) == 0:
        weights[0] = 1
    names = default_names(len(weights))
    split = Split(tier, [(n, w, n) for n, w in zip(names, weights, strict=True)])
    got = shares(split, KEYS)
    for name, weight in zip(names, weights, strict=True):
        expected = weight / sum(weights)
        if weight == 0:
            assert got[name] == 0.0  # a variant of weight 0 never answers
        else:
            assert abs(got[name] - expected) <= tolerance(expected, len(KEYS)), (name, got)


@pytest.mark.parametrize(
    "weights", [[90, 10], [50, 30, 20], [1, 1, 1]], ids=["90-10", "3-way", "thirds"]
)
def test_the_usual_splits(weights: list[int]) -> None:
    names = default_names(len(weights))
    split = Split("base", [(n, w, n) for n, w in zip(names, weights, strict=True)])
    got = shares(split, KEYS)
    for name, weight in zip(names, weights, strict=True):
        expected = weight / sum(weights)
        assert abs(got[name] - expected) <= tolerance(expected, len(KEYS)), got


def test_the_assignment_is_pinned_across_versions_and_processes() -> None:
    # The hash is part of the contract: a user keeps their variant after an upgrade.
    split = Split("base", [("a", 90, "A"), ("b", 10, "B")])
    here = [split.pick(f"user-{i}").name for i in range(12)]
    assert here == ["a", "a", "a", "b", "a", "a", "a", "a", "a", "a", "a", "a"]
    code = (
        "from langchain_hf_spaces._ab import Split\n"
        "s = Split('base', [('a', 90, 'A'), ('b', 10, 'B')])\n"
        "import sys; keys = sys.stdin.read().split()\n"
        "print(' '.join(s.pick(k).name for k in keys))\n"
    )
    keys = KEYS[:2000]
    env = {**os.environ, "PYTHONHASHSEED": "random", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=" ".join(keys),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert out.stdout.split() == [split.pick(k).name for k in keys]


def test_one_key_may_land_differently_in_another_tier() -> None:
    a = Split("base", [("a", 1, "A"), ("b", 1, "B")])
    c = Split("company", [("a", 1, "A"), ("b", 1, "B")])
    assert any(a.pick(k).name != c.pick(k).name for k in KEYS[:50])


def test_without_a_key_the_choice_is_random_by_weight() -> None:
    split = Split("base", [("a", 90, "A"), ("b", 10, "B")])
    rng = random.Random(1234)
    counts = Counter(split.pick(None, rng.random).name for _ in range(10_000))
    assert abs(counts["b"] / 10_000 - 0.1) <= tolerance(0.1, 10_000)
    rng2 = random.Random(1234)  # the same seed, the same picks
    again = Counter(split.pick(None, rng2.random).name for _ in range(10_000))
    assert again == counts


def test_fallback_order_is_the_pick_then_the_heaviest() -> None:
    split = Split("base", [("a", 10, "A"), ("b", 0, "B"), ("c", 60, "C"), ("d", 30, "D")])
    for key in KEYS[:200]:
        order = [arm.name for arm in split.order(key)]
        assert order[0] == split.pick(key).name
        assert "b" not in order  # weight 0: no calls, not even as a fallback
        rest = [n for n in ["c", "d", "a"] if n != order[0]]
        assert order[1:] == rest


def test_default_names_and_keys() -> None:
    assert default_names(3) == ["a", "b", "c"]
    assert default_names(28)[25:] == ["z", "aa", "ab"]
    assert check_key(42) == "42"
    assert check_key(None) is None
    for bad in ("", "   ", "x" * 2000, 1.5, b"user"):
        with pytest.raises(SpaceInputError, match="ab_key"):
            check_key(bad, tier="base")


# ------------------------------------------------------------------------------ settings
TOML = """
version = 1
[tiers.base]
url = "acme/llm-a"
protocol = "tgi"
read_timeout = 7
token_env = "ACME_TOKEN"
variants = [
    {weight = 90},
    {name = "llama", url = "https://hf.co/spaces/Acme/LLM_b", weight = 10, revision = "v2"},
]

[tiers.company]
protocol = "tgi"

[[tiers.company.variants]]
url = "acme/co-a"

[[tiers.company.variants]]
url = "acme/co-b"
read_timeout = 3
token_env = "CO_B_TOKEN"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hf-spaces.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_variants_from_toml_inherit_the_tier_and_override_it(tmp_path: Path) -> None:
    loaded = SpacesSettings.load(write(tmp_path, TOML), environ={})
    base = loaded.tiers["base"]
    (a_name, a_weight, a), (b_name, b_weight, b) = base.variant_configs()
    assert (a_name, a_weight, b_name, b_weight) == ("a", 90.0, "llama", 10.0)
    assert a.url == "https://acme-llm-a.hf.space" and a.space_id == "acme/llm-a"
    assert b.url == "https://acme-llm-b.hf.space" and b.space_id == "Acme/LLM_b"  # normalised
    for cfg in (a, b):  # inherited
        assert (cfg.protocol, cfg.read_timeout, cfg.token_env) == ("tgi", 7.0, "ACME_TOKEN")
        assert cfg.variants == ()
    assert (a.revision, b.revision) == (None, "v2")
    company = loaded.tiers["company"]
    assert company.url == "https://acme-co-a.hf.space"  # no url: the first variant's
    (_, _, ca), (_, _, cb) = company.variant_configs()
    assert (ca.read_timeout, cb.read_timeout) == (120.0, 3.0)
    assert (ca.token_env, cb.token_env) == (None, "CO_B_TOKEN")
    # Written back, it reads the same.
    again = SpacesSettings(**loaded.to_toml_dict())
    assert again.tiers["base"].variant_configs() == base.variant_configs()
    assert again.tiers["company"].variant_configs() == company.variant_configs()


def test_variants_from_the_environment() -> None:
    env = {
        "HF_SPACES_BASE_VARIANTS": json.dumps(
            [{"name": "x", "url": "acme/x", "weight": 3}, {"url": "acme/y", "weight": 1}]
        ),
        "HF_SPACES_BASE_PROTOCOL": "tgi",
        "HF_SPACES_COMPANY_VARIANTS": "acme/p, acme/q",  # plain URLs: equal weights
    }
    loaded = SpacesSettings.from_env(env)
    base = loaded.tiers["base"].variant_configs()
    assert [(n, w, c.url, c.protocol) for n, w, c in base] == [
        ("x", 3.0, "https://acme-x.hf.space", "tgi"),
        ("b", 1.0, "https://acme-y.hf.space", "tgi"),
    ]
    company = loaded.tiers["company"].variant_configs()
    assert [(n, w) for n, w, _ in company] == [("a", 1.0), ("b", 1.0)]
    with pytest.raises(SpaceConfigError, match="HF_SPACES_BASE_VARIANTS"):
        SpacesSettings.from_env({"HF_SPACES_BASE_VARIANTS": "[{not json"})


@pytest.mark.parametrize(
    ("variants", "url", "message"),
    [
        ('[{url = "acme/a", weight = 0}, {url = "acme/b", weight = 0}]', None, "weight 0"),
        ('[{url = "acme/a", weight = -1}]', None, "greater than or equal to 0"),
        ('[{name = "x", url = "acme/a"}, {name = "x", url = "acme/b"}]', None, "named 'x'"),
        ('[{url = "acme/a"}, {name = "a", url = "acme/b"}]', None, "named 'a'"),
        ('[{url = "http://example.com"}]', None, "plain http"),
        ('[{url = "acme/a", read_timeout = -1}]', None, "variant 'a'.*read_timeout"),
        ('[{url = "acme/a", revison = "v2"}]', None, "did you mean 'revision'"),
        ('[{weight = 1}, {url = "acme/b"}]', None, "variant 'a' has no url"),
        ('[{url = "acme/a"}, {url = "acme/b"}]', "acme/other", "not the Space of any variant"),
        ('[{url = "acme/a", name = "no spaces"}]', None, "short name"),
    ],
)
def test_bad_variants_are_typed_errors_naming_the_tier(
    tmp_path: Path, variants: str, url: str | None, message: str
) -> None:
    head = f'url = "{url}"\n' if url else ""
    path = write(tmp_path, f"version = 1\n[tiers.base]\n{head}variants = {variants}\n")
    with pytest.raises(SpaceConfigError, match=message) as err:
        SpacesSettings.load(path, environ={})
    assert err.value.tier == "base"


def test_variants_in_code_and_their_tokens_stay_secret() -> None:
    cfg = SpaceConfig(
        url="acme/a",
        token="hf_tierTOKEN0123456789",
        variants=[
            SpaceVariant(weight=2),
            SpaceVariant(url="acme/b", token="hf_variantTOKEN012345"),
        ],
    )
    (_, _, a), (_, _, b) = cfg.variant_configs()
    assert a.resolve_token() == "hf_tierTOKEN0123456789"  # inherited
    assert b.resolve_token() == "hf_variantTOKEN012345"  # its own
    shown = (
        repr(cfg)
        + str(cfg.variants)
        + json.dumps(SpacesSettings(tiers={"base": cfg}).to_toml_dict())
    )
    assert "hf_variantTOKEN012345" not in shown and "hf_tierTOKEN0123456789" not in shown
    written = SpacesSettings(tiers={"base": cfg}).to_toml_dict(include_tokens=True)
    assert written["tiers"]["base"]["variants"][1]["token"] == "hf_variantTOKEN012345"
    provided = SpaceConfig(url="acme/a", variants=[{}, "acme/b"]).with_token_provider(
        lambda: "hf_x1"
    )
    assert [c.resolve_token() for _, _, c in provided.variant_configs()] == ["hf_x1", "hf_x1"]


# ------------------------------------------------------------------------------ live Spaces
@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, LocalSpace]]:
    with LocalSpace(name="a") as a, LocalSpace(name="b") as b, LocalSpace(name="home") as home:
        yield {"a": a, "b": b, "home": home}


@pytest.fixture
def live(servers: dict[str, LocalSpace]) -> Iterator[dict[str, LocalSpace]]:
    for space in servers.values():
        space.clear_faults()
        space.wake()
        space.clear_requests()
    yield servers
    for space in servers.values():
        space.clear_faults()
        space.wake()


def split_settings(live: dict[str, LocalSpace], wa: float = 50, wb: float = 50) -> SpacesSettings:
    return SpacesSettings(
        tiers={
            "base": SpaceConfig(url=live["home"].url, **FAST),
            "company": SpaceConfig(
                variants=[
                    SpaceVariant(name="a", url=live["a"].url, weight=wa),
                    SpaceVariant(name="b", url=live["b"].url, weight=wb, revision="v2"),
                ],
                **FAST,
            ),
        }
    )


def key_for(spaces: SpacesClient, variant: str) -> str:
    return next(k for k in KEYS if spaces.variant_for(k, "company") == variant)


def test_a_key_sticks_to_one_variant_and_the_answer_names_it(live: dict[str, LocalSpace]) -> None:
    with SpacesClient(split_settings(live)) as spaces:
        for key in KEYS[:8]:
            chosen = spaces.variant_for(key, "company")
            answers = [spaces.complete("hi", "company", ab_key=key) for _ in range(3)]
            assert {a.variant for a in answers} == {chosen}
            assert {a.url for a in answers} == {live[str(chosen)].url}
            assert answers[0].metadata["variant"] == chosen
            assert answers[0].revision == ("v2" if chosen == "b" else None)
        assert spaces.variant_for("anyone", "base") is None  # a tier without variants
        answer = spaces.complete("hi", ab_key="anyone")
        assert answer.variant is None and "variant" not in answer.metadata
    sent = len(live["a"].requests) + len(live["b"].requests)
    assert sent == 24 and len(live["a"].requests) > 0 and len(live["b"].requests) > 0
    # The key picks the Space; it is never sent to it.
    assert all(b"ab_key" not in r.body for s in live.values() for r in s.requests)


async def test_async_calls_and_streams_pick_the_same_variant(live: dict[str, LocalSpace]) -> None:
    async with SpacesClient(split_settings(live)) as spaces:
        for key in KEYS[:6]:
            chosen = spaces.variant_for(key, "company")
            answer = await spaces.acomplete("hi", "company", ab_key=key)
            assert answer.variant == chosen
            chunks = [c async for c in spaces.astream_chunks("hi", "company", ab_key=key)]
            last = chunks[-1].answer
            assert last is not None and last.variant == chosen
            text = await spaces.agenerate("hi", "company", ab_key=key)
            assert text.startswith(f"Demo answer from {chosen}")
            sync_last = list(
                SpacesClient(spaces.settings).stream_chunks("hi", "company", ab_key=key)
            )
            assert sync_last[-1].answer is not None and sync_last[-1].answer.variant == chosen


def test_without_a_key_each_call_picks_by_weight(live: dict[str, LocalSpace]) -> None:
    with SpacesClient(split_settings(live)) as spaces:
        seen = Counter(spaces.complete("hi", "company").variant for _ in range(40))
    assert set(seen) == {"a", "b"}  # 50/50: missing one would be a 1-in-2**39 event
    with SpacesClient(split_settings(live, wa=1, wb=0)) as spaces:
        assert {spaces.complete("hi", "company").variant for _ in range(10)} == {"a"}


def test_structure_and_variations_go_to_the_chosen_variant(live: dict[str, LocalSpace]) -> None:
    with SpacesClient(split_settings(live)) as spaces:
        key = key_for(spaces, "b")
        texts = spaces.generate_variations("hi", 2, "company", ab_key=key, unique=False)
        assert all(t.startswith("Demo answer from b") for t in texts)
        assert live["a"].requests == []


def test_fallback_between_variants_is_opt_in(live: dict[str, LocalSpace]) -> None:
    live["a"].sleep_for(60)  # variant a stays asleep past its wake_timeout
    with SpacesClient(split_settings(live)) as spaces:
        key = key_for(spaces, "a")
        with pytest.raises(SpaceUnavailableError):
            spaces.complete("hi", "company", ab_key=key)
    with SpacesClient(split_settings(live), fallback_between_variants=True) as spaces:
        answer = spaces.complete("hi", "company", ab_key=key)
        assert (answer.variant, answer.fallback_from) == ("b", "company/a")
        assert answer.metadata["fallback_from"] == "company/a"
        chunks = list(spaces.stream_chunks("hi", "company", ab_key=key))
        last = chunks[-1].answer
        assert last is not None and (last.variant, last.fallback_from) == ("b", "company/a")
        other = spaces.complete("hi", "company", ab_key=key_for(spaces, "b"))
        assert (other.variant, other.fallback_from) == ("b", None)


async def test_async_fallback_between_variants(live: dict[str, LocalSpace]) -> None:
    live["b"].inject(Fault.server_error(503), times=None)
    async with SpacesClient(split_settings(live), fallback_between_variants=True) as spaces:
        key = key_for(spaces, "b")
        answer = await spaces.acomplete("hi", "company", ab_key=key)
        assert (answer.variant, answer.fallback_from) == ("a", "company/b")
        chunks = [c async for c in spaces.astream_chunks("hi", "company", ab_key=key)]
        last = chunks[-1].answer
        assert last is not None and (last.variant, last.fallback_from) == ("a", "company/b")


def test_variants_then_the_base_tier(live: dict[str, LocalSpace]) -> None:
    live["a"].inject(Fault.server_error(500), times=None)
    live["b"].inject(Fault.server_error(500), times=None)
    with SpacesClient(split_settings(live), fallback_to_base=True) as spaces:
        key = key_for(spaces, "b")
        answer = spaces.complete("hi", "company", ab_key=key)  # b, then base (a not asked)
        assert (answer.tier, answer.variant, answer.fallback_from) == ("base", None, "company/b")
    assert len(live["a"].requests) == 0
    with SpacesClient(
        split_settings(live), fallback_to_base=True, fallback_between_variants=True
    ) as spaces:
        answer = spaces.complete("hi", "company", ab_key=key)  # b, a, then base
        assert (answer.tier, answer.fallback_from) == ("base", "company/b")
    assert len(live["a"].requests) == 1 and len(live["home"].requests) == 2


def test_bad_variant_names_and_keys(live: dict[str, LocalSpace]) -> None:
    with SpacesClient(split_settings(live)) as spaces:
        assert spaces.space("company", variant="b").config.url == live["b"].url
        assert spaces.space("company").variant == "a"  # the first variant
        assert sorted(spaces.variants("company")) == ["a", "b"]
        assert spaces.variants("base") == {}
        with pytest.raises(SpaceConfigError, match="no variant 'c'") as err:
            spaces.space("company", variant="c")
        assert err.value.tier == "company"
        with pytest.raises(SpaceInputError, match="ab_key"):
            spaces.complete("hi", "company", ab_key="")
    assert all(s.requests == [] for s in live.values())


def test_test_connection_reports_each_variant(live: dict[str, LocalSpace]) -> None:
    live["b"].inject(Fault.server_error(500), times=None)
    with SpacesClient(split_settings(live)) as spaces:
        reports = spaces.test_connection()
        assert [(r.tier, r.variant, r.ok) for r in reports] == [
            ("base", None, True),
            ("company", "a", True),
            ("company", "b", False),
        ]
        assert "company/b" in reports[2].summary() and reports[2].url == live["b"].url
        only = spaces.test_connection("company")
        assert [r.variant for r in only] == ["a", "b"]


async def test_async_test_connection_reports_each_variant(live: dict[str, LocalSpace]) -> None:
    async with SpacesClient(split_settings(live)) as spaces:
        reports = await spaces.atest_connection("company")
    assert [(r.variant, r.ok, r.revision) for r in reports] == [
        ("a", True, None),
        ("b", True, "v2"),
    ]


def test_doctor_checks_each_variant(live: dict[str, LocalSpace], tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "version = 1\n[tiers.base]\nwake_timeout = 0.2\nmax_retries = 0\nvariants = ["
        f'{{name = "control", url = "{live["a"].url}", weight = 90}}, '
        f'{{url = "{live["b"].url}", weight = 10}}]\n',
    )
    live["b"].inject(Fault.server_error(500), times=None)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HF_SPACES_", "HF_TOKEN"))}
    out = subprocess.run(
        [sys.executable, "-m", "langchain_hf_spaces", "doctor", "--json"],
        cwd=tmp_path,
        env={**clean, "PYTHONPATH": str(ROOT), "HF_SPACES_CONFIG": str(path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    payload = json.loads(out.stdout)
    got = [(t["tier"], t["variant"], t["url"], t["ok"]) for t in payload["tiers"]]
    assert got == [
        ("base", "control", live["a"].url, True),
        ("base", "b", live["b"].url, False),
    ]
    assert out.returncode != 0


# ------------------------------------------------------------------------------ frameworks
def test_langchain_models_take_the_key_from_config_or_kwargs(live: dict[str, LocalSpace]) -> None:
    from langchain_core.runnables import RunnableLambda

    from langchain_hf_spaces import ChatHuggingFaceSpace, HuggingFaceSpaceLLM

    settings = split_settings(live)
    spaces = SpacesClient(settings)
    chat = ChatHuggingFaceSpace(settings=settings, tier="company")
    llm = HuggingFaceSpaceLLM(spaces=spaces, tier="company")
    for key in KEYS[:6]:
        chosen = spaces.variant_for(key, "company")
        config: Any = {"configurable": {"ab_key": key}}
        message = chat.invoke("hi", config=config)
        assert message.response_metadata["variant"] == chosen
        assert chat.invoke("hi", ab_key=key).response_metadata["variant"] == chosen
        result = llm.generate(["hi"], ab_key=key)
        assert result.generations[0][0].generation_info["variant"] == chosen  # type: ignore[index]
        chain = RunnableLambda(lambda text: text) | llm
        assert chain.invoke("hi", config=config).startswith(f"Demo answer from {chosen}")
        streamed = list(chat.stream("hi", config=config))
        assert streamed[-1].response_metadata["variant"] == chosen
    keys = KEYS[:6]
    batch = llm.batch(["hi"] * 6, [{"configurable": {"ab_key": k}} for k in keys])  # type: ignore[misc]
    assert [t.split(":")[0] for t in batch] == [
        f"Demo answer from {spaces.variant_for(k, 'company')}" for k in keys
    ]
    assert all(b"ab_key" not in r.body for s in live.values() for r in s.requests)
    spaces.close()
    chat.close()


async def test_langchain_async_models_take_the_key(live: dict[str, LocalSpace]) -> None:
    from langchain_hf_spaces import ChatHuggingFaceSpace, HuggingFaceSpaceLLM

    settings = split_settings(live)
    spaces = SpacesClient(settings)
    chat = ChatHuggingFaceSpace(settings=settings, tier="company")
    llm = HuggingFaceSpaceLLM(settings=settings, tier="company")
    for key in KEYS[:6]:
        chosen = spaces.variant_for(key, "company")
        config: Any = {"configurable": {"ab_key": key}}
        message = await chat.ainvoke("hi", config=config)
        assert message.response_metadata["variant"] == chosen
        chunks = [c async for c in chat.astream("hi", config=config)]
        assert chunks[-1].response_metadata["variant"] == chosen
        text = await llm.ainvoke("hi", ab_key=key)
        assert text.startswith(f"Demo answer from {chosen}")
    await chat.aclose()
    await llm.aclose()


def test_llama_index_takes_the_key_as_a_kwarg(live: dict[str, LocalSpace]) -> None:
    from llama_index.core.llms import ChatMessage

    from llama_index_hf_spaces import HuggingFaceSpaceLLM

    settings = split_settings(live)
    spaces = SpacesClient(settings)
    llm = HuggingFaceSpaceLLM("company", settings=settings)
    for key in KEYS[:6]:
        chosen = spaces.variant_for(key, "company")
        assert llm.complete("hi", ab_key=key).additional_kwargs["variant"] == chosen
        reply = llm.chat([ChatMessage(role="user", content="hi")], ab_key=key)
        assert reply.additional_kwargs["variant"] == chosen
        streamed = list(llm.stream_complete("hi", ab_key=key))
        assert streamed[-1].additional_kwargs["variant"] == chosen
    assert all(b"ab_key" not in r.body for s in live.values() for r in s.requests)
    llm.close()


async def test_llama_index_async_takes_the_key(live: dict[str, LocalSpace]) -> None:
    from llama_index.core.llms import ChatMessage

    from llama_index_hf_spaces import HuggingFaceSpaceLLM

    settings = split_settings(live)
    spaces = SpacesClient(settings)
    llm = HuggingFaceSpaceLLM("company", settings=settings)
    for key in KEYS[:6]:
        chosen = spaces.variant_for(key, "company")
        answer = await llm.acomplete("hi", ab_key=key)
        assert answer.additional_kwargs["variant"] == chosen
        reply = await llm.achat([ChatMessage(role="user", content="hi")], ab_key=key)
        assert reply.additional_kwargs["variant"] == chosen
    await llm.aclose()


def test_the_settings_page_keeps_a_tiers_variants() -> None:
    from langchain_hf_spaces.cli._ui._form import apply_form

    raw = {
        "version": 1,
        "tiers": {"base": {"protocol": "tgi", "variants": [{"url": "acme/a"}, "acme/b"]}},
    }
    form = {"tiers": [{"name": "base", "values": {"protocol": "tgi", "read_timeout": "9"}}]}
    result = apply_form(raw, form)
    assert result.errors == {} and result.settings is not None
    base = result.settings.tiers["base"]
    assert [c.url for _, _, c in base.variant_configs()] == [
        "https://acme-a.hf.space",
        "https://acme-b.hf.space",
    ]
    assert {c.read_timeout for _, _, c in base.variant_configs()} == {9.0}


def test_a_single_space_client_refuses_ab_key(live: dict[str, LocalSpace]) -> None:
    from langchain_hf_spaces import SpaceClient

    client = SpaceClient(SpaceConfig(url=live["a"].url))
    with pytest.raises(SpaceInputError, match="ab_key chooses between the A/B variants"):
        client.complete("hi", ab_key="user-42")
    client.close()
    assert live["a"].requests == []
