"""Settings: URL forms, tiers, loading from code / env / TOML, token sources, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from langchain_hf_spaces import SpaceConfig, SpaceConfigError, SpacesSettings, normalize_space_url
from langchain_hf_spaces.config import migrate_settings_dict

TOKEN = "hf_TESTTOKENabcdefghijklmnopqrstuv"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://huggingface.co/spaces/Acme/My_Model.v2", "https://acme-my-model-v2.hf.space"),
        ("https://huggingface.co/spaces/acme/chat/tree/main", "https://acme-chat.hf.space"),
        ("https://Acme-Chat.hf.space/", "https://acme-chat.hf.space"),
        ("https://acme-chat.hf.space/prefix/", "https://acme-chat.hf.space/prefix"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost:7860/", "http://localhost:7860"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("https://llm.example.com/base", "https://llm.example.com/base"),
    ],
)
def test_url_forms_are_normalised(url: str, expected: str) -> None:
    assert normalize_space_url(url) == expected
    assert SpaceConfig(url=url).url == expected


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("ftp://x.hf.space", r"not an http\(s\) URL"),
        ("https://huggingface.co/models/gpt2", "not a Space page"),
        ("http://example.com", "plain http"),
        ("https://user:pw@acme-x.hf.space", "credentials"),
        ("https://acme-x.hf.space?token=abc", "query"),
        ("", "non-empty"),
        ("https://acme-x.hf.space:99999", "malformed"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url: str, fragment: str) -> None:
    with pytest.raises(SpaceConfigError, match=fragment):
        SpaceConfig(url=url)


def test_insecure_http_needs_explicit_opt_in() -> None:
    cfg = SpaceConfig(url="http://llm.internal:8000", allow_insecure_http=True)
    assert cfg.url == "http://llm.internal:8000"
    assert cfg.sends_token_insecurely


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("connect_timeout", -1),
        ("read_timeout", 0),
        ("max_retries", -2),
        ("wake_timeout", -5),
        ("endpoint", "/api/../x"),
        ("protocol", "carrier-pigeon"),
        ("max_response_bytes", 0),
    ],
)
def test_bad_fields_name_the_field_and_value(field: str, value: object) -> None:
    with pytest.raises(SpaceConfigError) as info:
        SpaceConfig(url="https://a-b.hf.space", token=TOKEN, **{field: value})
    assert field in str(info.value)
    assert repr(value) in str(info.value)
    assert TOKEN not in str(info.value)


def test_endpoint_accepts_versioned_paths_and_adds_slash() -> None:
    assert (
        SpaceConfig(url="https://a-b.hf.space", endpoint="v1/generate").endpoint == "/v1/generate"
    )


def test_token_sources_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_from_env_fallback")
    monkeypatch.setenv("MY_SPACE_TOKEN", "hf_from_named_env")
    url = "https://a-b.hf.space"
    assert SpaceConfig(url=url).resolve_token() == "hf_from_env_fallback"
    assert SpaceConfig(url=url, token_env="MY_SPACE_TOKEN").resolve_token() == "hf_from_named_env"
    assert SpaceConfig(url=url, token="hf_explicit").resolve_token() == "hf_explicit"
    monkeypatch.delenv("HF_TOKEN")
    assert SpaceConfig(url=url).resolve_token() is None


def test_token_callable_is_consulted_per_request() -> None:
    tokens = iter(["hf_first", "hf_second"])
    cfg = SpaceConfig(url="https://a-b.hf.space", token=lambda: next(tokens))
    assert cfg.resolve_token() == "hf_first"
    assert cfg.resolve_token() == "hf_second"
    rotated = SpaceConfig(url="https://a-b.hf.space").with_token_provider(lambda: "hf_rot")
    assert rotated.resolve_token() == "hf_rot"


def test_token_never_in_repr_or_str() -> None:
    cfg = SpaceConfig(url="https://a-b.hf.space", token=TOKEN)
    settings = SpacesSettings(tiers={"base": cfg})
    for obj in (cfg, settings):
        assert TOKEN not in repr(obj)
        assert TOKEN not in str(obj)
    assert TOKEN not in str(settings.to_toml_dict())
    assert settings.to_toml_dict(include_tokens=True)["tiers"]["base"]["token"] == TOKEN


def test_settings_tiers_default_and_switch() -> None:
    s = SpacesSettings(
        default_tier="company",
        tiers={
            "base": {"url": "https://a-base.hf.space"},
            "company": {"url": "https://a-co.hf.space"},
        },
    )
    assert s.space().url == "https://a-co.hf.space"
    assert s.space("base").url == "https://a-base.hf.space"
    with pytest.raises(SpaceConfigError, match="tier 'user' is not configured"):
        s.space("user")
    assert SpacesSettings(enabled=False).tiers == {}


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({}, "no tier is configured"),
        ({"default_tier": "user", "tiers": {"base": {"url": "https://a-b.hf.space"}}}, "'user'"),
        ({"tiers": {"Bad Tier": {"url": "https://a-b.hf.space"}}}, "tier name 'Bad Tier'"),
        ({"tiers": {"base": {"url": "https://a-b.hf.space", "colour": "red"}}}, "colour"),
        ({"version": 99, "tiers": {"base": {"url": "https://a-b.hf.space"}}}, "version 99"),
    ],
)
def test_bad_settings_are_named(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(SpaceConfigError, match=fragment):
        SpacesSettings(**kwargs)  # type: ignore[arg-type]


def test_extra_tier_names_are_allowed() -> None:
    s = SpacesSettings(
        tiers={
            "base": {"url": "https://a-b.hf.space"},
            "staging-2": {"url": "https://a-s.hf.space"},
        }
    )
    assert set(s.tiers) == {"base", "staging-2"}


def test_load_from_environment() -> None:
    env = {
        "HF_SPACES_ENABLED": "true",
        "HF_SPACES_DEFAULT_TIER": "company",
        "HF_SPACES_BASE_URL": "https://huggingface.co/spaces/acme/base",
        "HF_SPACES_COMPANY_URL": "https://acme-company.hf.space",
        "HF_SPACES_COMPANY_ENDPOINT": "/v1/generate",
        "HF_SPACES_COMPANY_TOKEN": TOKEN,
        "HF_SPACES_COMPANY_REVISION": "2024-06",
        "HF_SPACES_COMPANY_PROTOCOL": "generate",
        "HF_SPACES_STAGING_URL": "https://acme-staging.hf.space",
    }
    s = SpacesSettings.from_env(env)
    assert s.default_tier == "company"
    assert s.tiers["base"].url == "https://acme-base.hf.space"
    company = s.tiers["company"]
    assert (company.endpoint, company.revision, company.resolve_token()) == (
        "/v1/generate",
        "2024-06",
        TOKEN,
    )
    assert s.tiers["staging"].url == "https://acme-staging.hf.space"


def test_env_setting_without_url_is_an_error() -> None:
    with pytest.raises(SpaceConfigError, match="no url"):
        SpacesSettings.from_env(
            {"HF_SPACES_BASE_URL": "https://a-b.hf.space", "HF_SPACES_USER_TOKEN": "x"}
        )


def test_env_bool_must_be_a_bool() -> None:
    with pytest.raises(SpaceConfigError, match="HF_SPACES_ENABLED='maybe'"):
        SpacesSettings.from_env({"HF_SPACES_ENABLED": "maybe"})


def test_toml_file_with_env_overriding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "hf-spaces.toml"
    path.write_text(
        """
version = 1
enabled = true
default_tier = "base"

[tiers.base]
url = "https://acme-base.hf.space"
revision = "from-file"

[tiers.user]
url = "https://acme-user.hf.space"
token_env = "USER_SPACE_TOKEN"
""",
        encoding="utf-8",
    )
    env = {"HF_SPACES_BASE_REVISION": "from-env", "USER_SPACE_TOKEN": "hf_user"}
    s = SpacesSettings.load(path, environ=env)
    assert s.tiers["base"].revision == "from-env"
    assert s.tiers["user"].token_env == "USER_SPACE_TOKEN"
    # HF_SPACES_CONFIG and ./hf-spaces.toml are found without a path
    monkeypatch.chdir(tmp_path)
    assert SpacesSettings.load(environ={}).tiers["base"].revision == "from-file"
    other = tmp_path / "elsewhere.toml"
    other.write_text(path.read_text(encoding="utf-8").replace("from-file", "elsewhere"))
    loaded = SpacesSettings.load(environ={"HF_SPACES_CONFIG": str(other)})
    assert loaded.tiers["base"].revision == "elsewhere"


def test_toml_errors_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("version = [", encoding="utf-8")
    with pytest.raises(SpaceConfigError, match="not valid TOML"):
        SpacesSettings.load(bad, environ={})
    with pytest.raises(SpaceConfigError, match="cannot read settings file"):
        SpacesSettings.load(tmp_path / "missing.toml", environ={})


def test_version_0_file_is_migrated() -> None:
    data, changes = migrate_settings_dict(
        {"default_tier": "base", "base": {"url": "https://a-b.hf.space"}}
    )
    assert data["version"] == 1
    assert data["tiers"]["base"]["url"] == "https://a-b.hf.space"
    assert "moved [base] to [tiers.base]" in changes
    assert SpacesSettings(**data).tiers["base"].url == "https://a-b.hf.space"


def test_settings_round_trip_through_toml_dict() -> None:
    s = SpacesSettings(
        tiers={"base": SpaceConfig(url="https://a-b.hf.space", revision="r1", token_env="T")}
    )
    again = SpacesSettings(**s.to_toml_dict())
    assert again.tiers["base"].revision == "r1"
    assert again.tiers["base"].token_env == "T"


def test_updated_validates_and_keeps_the_token_provider() -> None:
    cfg = SpaceConfig(url="https://a-b.hf.space").with_token_provider(lambda: "hf_rot")
    slower = cfg.updated(read_timeout=30)
    assert slower.read_timeout == 30 and slower.resolve_token() == "hf_rot"
    assert cfg.updated(token="hf_fixed").resolve_token() == "hf_fixed"
    with pytest.raises(SpaceConfigError, match="read_timeout"):
        cfg.updated(read_timeout=-1)
