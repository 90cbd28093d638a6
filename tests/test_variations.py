"""Variations (the guide's ``generateVariations``): seeds, order, concurrency, duplicates."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from langchain_hf_spaces import (
    DuplicateVariationsWarning,
    SpaceClient,
    SpaceConfig,
    SpaceInputError,
    SpacesClient,
    SpacesSettings,
    SpaceUnavailableError,
)
from langchain_hf_spaces.testing import Fault, LocalSpace


def _seeded(prompt: str, parameters: dict[str, Any]) -> str:
    return f"answer seed={parameters.get('seed')} sample={parameters.get('do_sample')}"


@pytest.fixture(scope="module")
def space() -> Iterator[LocalSpace]:
    with LocalSpace(name="company", responder=_seeded) as s:
        yield s


@pytest.fixture(autouse=True)
def _clean(space: LocalSpace) -> None:
    space.clear_faults()
    space.clear_requests()


def client(space: LocalSpace, protocol: str = "generate") -> SpaceClient:
    cfg = SpaceConfig(url=space.url, protocol=protocol, max_retries=0, model="m")
    return SpaceClient(cfg, tier="company")


@pytest.mark.parametrize("protocol", ["generate", "tgi"])
def test_each_variation_has_its_own_seed_and_sampling(space: LocalSpace, protocol: str) -> None:
    out = client(space, protocol).generate_variations("Slogan", 4, seed=100)
    assert out == [f"answer seed={100 + i} sample=True" for i in range(4)]


def test_openai_gets_seeds_but_no_do_sample(space: LocalSpace) -> None:
    out = client(space, "openai").generate_variations("Slogan", 2, seed=7)
    assert sorted(r.json.get("seed") for r in space.requests) == [7, 8]
    assert all("do_sample" not in r.json for r in space.requests)
    assert len(out) == 2


async def test_async_variations_in_order(space: LocalSpace) -> None:
    out = await client(space).agenerate_variations("Slogan", 5, seed=0)
    assert out == [f"answer seed={i} sample=True" for i in range(5)]


def test_variations_run_concurrently_and_honour_max_concurrency(space: LocalSpace) -> None:
    space.inject(Fault.slow(0.3), times=8)
    client(space).generate_variations("Slogan", 8, seed=0)
    assert space.peak_concurrency >= 4
    with LocalSpace(responder=_seeded) as other:
        other.inject(Fault.slow(0.2), times=6)
        client(other).generate_variations("Slogan", 6, seed=0, max_concurrency=2)
        assert other.peak_concurrency == 2


async def test_async_max_concurrency() -> None:
    with LocalSpace(responder=_seeded) as other:
        other.inject(Fault.slow(0.2), times=6)
        await client(other).agenerate_variations("Slogan", 6, seed=0, max_concurrency=3)
        assert other.peak_concurrency == 3


def test_duplicates_are_reasked_then_warned() -> None:
    with LocalSpace(responder=lambda p, params: "always the same") as same:
        with pytest.warns(DuplicateVariationsWarning, match="1 distinct answers of 3"):
            out = client(same).generate_variations("Slogan", 3, seed=0)
        assert out == ["always the same"] * 3
        seeds = [r.json["parameters"]["seed"] for r in same.requests]
        assert sorted(seeds[:3]) == [0, 1, 2] and len(set(seeds)) == len(seeds) == 3 + 2 + 2


def test_duplicates_resolved_by_reasking() -> None:
    def first_two_collide(prompt: str, parameters: dict[str, Any]) -> str:
        seed = parameters["seed"]
        return "dup" if seed in (0, 1) else f"fresh {seed}"

    with LocalSpace(responder=first_two_collide) as sp, warnings.catch_warnings():
        warnings.simplefilter("error", DuplicateVariationsWarning)
        out = client(sp).generate_variations("Slogan", 3, seed=0)
    assert out == ["dup", "fresh 3", "fresh 2"]


def test_unique_false_keeps_duplicates_without_reasking() -> None:
    with LocalSpace(responder=lambda p, params: "same") as sp:
        assert client(sp).generate_variations("x", 3, seed=0, unique=False) == ["same"] * 3
        assert len(sp.requests) == 3


@pytest.mark.parametrize(
    ("n", "fragment"), [(0, "at least 1"), (-1, "at least 1"), (65, "max_n=64"), (2.5, "2.5")]
)
def test_bad_n(space: LocalSpace, n: Any, fragment: str) -> None:
    with pytest.raises(SpaceInputError, match=fragment):
        client(space).generate_variations("x", n)
    assert not space.requests


def test_cap_is_configurable(space: LocalSpace) -> None:
    with pytest.raises(SpaceInputError, match="max_n=2"):
        client(space).generate_variations("x", 3, max_n=2)


def test_a_failing_variation_fails_the_call(space: LocalSpace) -> None:
    space.inject(Fault.server_error(500))
    with pytest.raises(SpaceUnavailableError) as info:
        client(space).generate_variations("x", 3, seed=0, max_concurrency=1)
    assert info.value.tier == "company"


def test_return_exceptions_puts_typed_errors_in_place(space: LocalSpace) -> None:
    space.inject(Fault.server_error(500))
    out = client(space).generate_variations(
        "x", 3, seed=0, max_concurrency=1, return_exceptions=True
    )
    assert isinstance(out[0], SpaceUnavailableError)
    assert out[1:] == ["answer seed=1 sample=True", "answer seed=2 sample=True"]


async def test_async_return_exceptions(space: LocalSpace) -> None:
    space.inject(Fault.server_error(500))
    out = await client(space).agenerate_variations(
        "x", 2, seed=0, max_concurrency=1, return_exceptions=True
    )
    assert isinstance(out[0], SpaceUnavailableError) and isinstance(out[1], str)


@pytest.mark.vcr
def test_guide_example_on_company_tier(recording_url: Callable[..., Any]) -> None:
    with recording_url(name="company") as (url, _):
        settings = SpacesSettings(
            tiers={"base": SpaceConfig(url=url), "company": SpaceConfig(url=url, protocol="tgi")}
        )
        slogans = SpacesClient(settings).generate_variations(
            "Create a product slogan for an eco-friendly water bottle",
            3,
            "company",
            seed=42,
            max_concurrency=1,
        )
    assert len(slogans) == 3 and len(set(slogans)) == 3
    assert all(s.startswith("Demo answer from company") for s in slogans)
