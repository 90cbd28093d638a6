"""A/B variants through the gateway: OpenAI's ``user`` is the sticky ``ab_key``, and
``/v1/models`` lists each variant's Space."""

from __future__ import annotations

import httpx
import openai
import pytest

from langchain_hf_spaces import SpaceConfig, SpaceVariant
from langchain_hf_spaces.testing import LocalSpace
from tests.gateway.conftest import Stack


def _split(started: Stack) -> tuple[LocalSpace, LocalSpace, openai.OpenAI, str]:
    a = started.space(responder=lambda prompt, params: "from a")
    b = started.space(responder=lambda prompt, params: "from b")
    config = SpaceConfig(
        url=a.url,
        variants=[SpaceVariant(name="a", url=a.url), SpaceVariant(name="b", url=b.url)],
    )
    client = started.client({"base": config})
    gateway = started.gateway(client)
    return a, b, started.openai(gateway), gateway.base_url


def test_the_user_field_keeps_one_user_on_one_variant(started: Stack) -> None:
    a, b, sdk, _ = _split(started)
    seen: dict[str, set[str]] = {}
    for user in [f"user-{i}" for i in range(12)]:
        for _ in range(3):
            reply = sdk.chat.completions.create(
                model="base", messages=[{"role": "user", "content": "Hi"}], user=user
            )
            extension = reply.model_extra["hf_spaces"]  # type: ignore[index]
            assert reply.choices[0].message.content == f"from {extension['variant']}"
            seen.setdefault(user, set()).add(extension["variant"])
        done = sdk.completions.create(model="base", prompt="Hi", user=user)
        seen[user].add(done.model_extra["hf_spaces"]["variant"])  # type: ignore[index]
    assert all(len(variants) == 1 for variants in seen.values()), seen
    # a sticky hash over 12 users at 50/50: both variants answer someone
    assert set().union(*seen.values()) == {"a", "b"}
    assert a.requests and b.requests


def test_a_bad_user_is_a_400_naming_it(started: Stack) -> None:
    _, _, sdk, _ = _split(started)
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(
            model="base",
            messages=[{"role": "user", "content": "Hi"}],
            extra_body={"user": 42},
        )
    assert caught.value.body["param"] == "user"  # type: ignore[index]


def test_models_list_each_variant_with_its_weight(started: Stack) -> None:
    a, b, _, base_url = _split(started)
    listed = httpx.get(f"{base_url}/models").json()["data"]
    (model,) = listed
    assert model["hf_spaces"]["urls"] == [a.url, b.url]
    assert model["hf_spaces"]["variants"] == [
        {"name": "a", "weight": 1.0, "url": a.url},
        {"name": "b", "weight": 1.0, "url": b.url},
    ]
