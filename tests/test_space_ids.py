"""Space ids: ``SpaceConfig(url="acme/base-llm")``, the ``space_id`` field, the DNS label rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from langchain_hf_spaces import SpaceConfig, SpaceConfigError, SpacesSettings, normalize_space_url
from langchain_hf_spaces.config import space_id_from_url


@pytest.mark.parametrize(
    ("url", "expected_url", "expected_id"),
    [
        ("acme/base-llm", "https://acme-base-llm.hf.space", "acme/base-llm"),
        ("  Acme/My_Model.v2 ", "https://acme-my-model-v2.hf.space", "Acme/My_Model.v2"),
        (
            "https://huggingface.co/spaces/acme/base-llm",
            "https://acme-base-llm.hf.space",
            "acme/base-llm",
        ),
        (
            "https://huggingface.co/spaces/Acme/Base_LLM/tree/main",
            "https://acme-base-llm.hf.space",
            "Acme/Base_LLM",
        ),
        ("https://hf.co/spaces/acme/chat", "https://acme-chat.hf.space", "acme/chat"),
        ("https://acme-base-llm.hf.space", "https://acme-base-llm.hf.space", None),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080", None),
        ("https://llm.acme.example/base", "https://llm.acme.example/base", None),
    ],
)
def test_space_id_forms(url: str, expected_url: str, expected_id: str | None) -> None:
    cfg = SpaceConfig(url=url)
    assert (cfg.url, cfg.space_id) == (expected_url, expected_id)
    assert normalize_space_url(url) == expected_url
    assert space_id_from_url(url) == expected_id


def test_a_space_served_elsewhere_names_its_id() -> None:
    local = SpaceConfig(url="http://127.0.0.1:7860", space_id="acme/base-llm")
    assert (local.url, local.space_id) == ("http://127.0.0.1:7860", "acme/base-llm")
    custom = SpaceConfig(url="https://llm.acme.example", space_id="Acme/Base_LLM")
    assert custom.space_id == "Acme/Base_LLM"


def test_the_same_space_twice_is_fine_two_spaces_are_refused() -> None:
    same = SpaceConfig(url="acme/base-llm", space_id="Acme/Base-LLM")
    assert same.space_id == "Acme/Base-LLM"
    with pytest.raises(SpaceConfigError, match="names the Space 'acme/base-llm' but space_id"):
        SpaceConfig(url="acme/base-llm", space_id="acme/other")


@pytest.mark.parametrize("bad", ["base-llm", "acme/", "/x", "a/b/c", "acme/base llm", "-a/b"])
def test_a_bad_space_id_is_refused(bad: str) -> None:
    with pytest.raises(SpaceConfigError, match="space_id") as info:
        SpaceConfig(url="https://llm.acme.example", space_id=bad)
    assert "acme/base-llm" in info.value.message  # the example of the right form


def test_something_else_is_not_taken_for_an_id() -> None:
    # An owner has no dot: a host and path without a scheme stays an error, as before.
    with pytest.raises(SpaceConfigError, match=r"not an http\(s\) URL"):
        SpaceConfig(url="llm.acme.example/base")
    assert space_id_from_url("llm.acme.example/base") is None
    assert space_id_from_url("https://huggingface.co/models/gpt2") is None


def test_the_space_id_from_the_environment_and_the_file(tmp_path: Path) -> None:
    settings = SpacesSettings.load(
        environ={
            "HF_SPACES_BASE_URL": "acme/base-llm",
            "HF_SPACES_LOCAL_URL": "http://127.0.0.1:7860",
            "HF_SPACES_LOCAL_SPACE_ID": "acme/local-llm",
        }
    )
    assert settings.tiers["base"].url == "https://acme-base-llm.hf.space"
    assert settings.tiers["base"].space_id == "acme/base-llm"
    assert settings.tiers["local"].space_id == "acme/local-llm"
    data = settings.to_toml_dict()
    assert data["tiers"]["base"]["space_id"] == "acme/base-llm"
    again = SpacesSettings(**data)
    assert again.tiers == settings.tiers
    path = tmp_path / "hf-spaces.toml"
    path.write_text('version = 1\n[tiers.base]\nurl = "Acme/Base_LLM"\n', encoding="utf-8")
    base = SpacesSettings.from_toml(path).tiers["base"]
    assert (base.url, base.space_id) == ("https://acme-base-llm.hf.space", "Acme/Base_LLM")


def test_updated_keeps_or_drops_the_id_with_the_url() -> None:
    cfg = SpaceConfig(url="acme/base-llm")
    assert cfg.updated(read_timeout=5).space_id == "acme/base-llm"
    moved = cfg.updated(url="acme/other-llm")
    assert (moved.url, moved.space_id) == ("https://acme-other-llm.hf.space", "acme/other-llm")
    assert cfg.updated(url="https://llm.acme.example").space_id is None
    kept = cfg.updated(url="http://127.0.0.1:9", space_id="acme/base-llm")
    assert kept.space_id == "acme/base-llm"


# ------------------------------------------------------------------------ the label rule
def test_a_host_label_of_63_characters_is_fine() -> None:
    space_id = "a" * 30 + "/" + "b" * 32  # "a...a-b...b": 63 characters
    assert SpaceConfig(url=space_id).url == f"https://{'a' * 30}-{'b' * 32}.hf.space"


@pytest.mark.parametrize(
    "url",
    [
        "acme-research-lab/a-rather-long-space-name-for-the-llm-demo-v2.1",
        "https://huggingface.co/spaces/acme-research-lab/a-rather-long-space-name-for-the-llm-demo-v2.1",
    ],
)
def test_a_host_label_over_63_characters_is_refused(url: str) -> None:
    with pytest.raises(SpaceConfigError) as info:
        SpaceConfig(url=url)
    message, hint = info.value.message, info.value.hint
    assert "64 characters" in message and "63" in message
    assert "another host" in message
    assert "acme-research-lab/a-rather-long-space-name-for-the-llm-demo-v2.1" in hint
    assert "`host`" in hint and "https://huggingface.co/api/spaces/" in hint


def test_the_real_host_of_a_long_space_with_its_id() -> None:
    space_id = "acme-research-lab/a-rather-long-space-name-for-the-llm-demo-v2.1"
    cfg = SpaceConfig(
        url="https://acme-research-lab-a-rather-long-5f3c.hf.space", space_id=space_id
    )
    assert cfg.space_id == space_id


def test_an_hf_space_host_over_63_characters_is_refused() -> None:
    with pytest.raises(SpaceConfigError, match="DNS allows 63"):
        SpaceConfig(url=f"https://{'x' * 64}.hf.space")


def test_the_hint_names_hf_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.acme.example")
    with pytest.raises(SpaceConfigError) as info:
        SpaceConfig(url="a" * 40 + "/" + "b" * 40)
    assert "https://hub.acme.example/api/spaces/" in info.value.hint
