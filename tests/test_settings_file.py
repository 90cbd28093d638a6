"""Settings from ``hf-spaces.toml`` and from code: unknown keys, tier names, one URL normalisation.

A key that is not a setting (at the top level or in a tier table) names the closest one; tier
names are checked whole; a Space URL is normalised exactly once; every field survives a trip
through the file format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from langchain_hf_spaces import SpaceConfig, SpaceConfigError, SpacesSettings, SpaceVariant
from langchain_hf_spaces import config as config_module

URL = "https://acme-base.hf.space"
URL_HINT = (
    "Use a Space id <user>/<space>, https://huggingface.co/spaces/<user>/<space> or "
    "https://<user>-<space>.hf.space."
)


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hf-spaces.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "key", "place", "suggestion"),
    [
        (
            f'version = 1\n[tiers.base]\nurl = "{URL}"\nwake_timout = 30\n',
            "wake_timout",
            "in [tiers.base]",
            "wake_timeout",
        ),
        (
            f'version = 1\n[tiers.company]\nurl = "{URL}"\nmax_retry = 1\n',
            "max_retry",
            "in [tiers.company]",
            "max_retries",
        ),
        (
            f'version = 1\ndefualt_tier = "base"\n[tiers.base]\nurl = "{URL}"\n',
            "defualt_tier",
            "at the top level",
            "default_tier",
        ),
        (
            f'version = 1\nenable = false\n[tiers.base]\nurl = "{URL}"\n',
            "enable",
            "at the top level",
            "enabled",
        ),
        # A file of version 0 (tier tables at the top level) is migrated first.
        (f'[base]\nurl = "{URL}"\nendpiont = "/x"\n', "endpiont", "in [tiers.base]", "endpoint"),
    ],
)
def test_an_unknown_key_names_itself_and_the_closest_key(
    tmp_path: Path, text: str, key: str, place: str, suggestion: str
) -> None:
    path = _file(tmp_path, text)
    for load in (
        lambda: SpacesSettings.load(path, environ={}),
        lambda: SpacesSettings.from_toml(path),
    ):
        with pytest.raises(SpaceConfigError) as info:
            load()
        message = info.value.message
        assert f"unknown key {key!r} {place}: did you mean {suggestion!r}?" in message
        assert str(path) in message


def test_an_unknown_key_without_a_close_one_lists_the_valid_keys(tmp_path: Path) -> None:
    path = _file(tmp_path, f'version = 1\n[tiers.base]\nurl = "{URL}"\ncolour = "red"\n')
    with pytest.raises(SpaceConfigError, match="unknown key 'colour' in") as info:
        SpacesSettings.load(path, environ={})
    assert "wake_timeout" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('version = 1\ntiers = "base"\n', "`tiers` must be a table of tiers, not str"),
        ('version = 1\n[tiers]\nbase = "https://a-b.hf.space"\n', "tier 'base' must be a table"),
    ],
)
def test_tiers_that_are_not_tables_are_config_errors(
    tmp_path: Path, text: str, fragment: str
) -> None:
    with pytest.raises(SpaceConfigError, match=fragment):
        SpacesSettings.load(_file(tmp_path, text), environ={})


def test_an_unknown_keyword_in_code_names_the_closest_field() -> None:
    with pytest.raises(SpaceConfigError, match=r"max_retry=3: .*did you mean 'max_retries'\?"):
        SpaceConfig(url=URL, max_retry=3)
    with pytest.raises(SpaceConfigError, match=r"did you mean 'default_tier'\?"):
        SpacesSettings(defualt_tier="base", tiers={"base": {"url": URL}})  # type: ignore[call-arg]


@pytest.mark.parametrize("name", ["base\n", "base ", " base", "base\nuser"])
def test_tier_names_are_checked_whole(name: str) -> None:
    with pytest.raises(SpaceConfigError, match="tier name"):
        SpacesSettings(tiers={name: {"url": URL}})
    with pytest.raises(SpaceConfigError, match="must be a tier name"):
        SpacesSettings(default_tier=name, tiers={"base": {"url": URL}})


def test_tier_names_in_a_file_are_checked_whole(tmp_path: Path) -> None:
    path = _file(tmp_path, f'version = 1\n[tiers."base\\n"]\nurl = "{URL}"\n')
    with pytest.raises(SpaceConfigError, match="tier name 'base\\\\n' is invalid"):
        SpacesSettings.load(path, environ={})


@pytest.fixture
def normalisations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every URL given to ``normalize_space_url`` while building settings."""
    seen: list[str] = []
    original = config_module.normalize_space_url

    def counting(url: str, *, allow_insecure_http: bool = False) -> str:
        seen.append(url)
        return original(url, allow_insecure_http=allow_insecure_http)

    monkeypatch.setattr(config_module, "normalize_space_url", counting)
    return seen


def test_a_url_is_normalised_once(normalisations: list[str]) -> None:
    page = "https://huggingface.co/spaces/Acme/Base_LLM"
    assert SpaceConfig(url=page).url == "https://acme-base-llm.hf.space"
    assert normalisations == [page]
    normalisations.clear()
    settings = SpacesSettings.load(environ={"HF_SPACES_BASE_URL": page})
    assert settings.tiers["base"].url == "https://acme-base-llm.hf.space"
    assert normalisations == [page]


def test_every_way_of_building_a_config_normalises_the_url() -> None:
    page = "https://huggingface.co/spaces/Acme/Base_LLM"
    assert SpaceConfig.model_validate({"url": page}).url == "https://acme-base-llm.hf.space"
    assert SpacesSettings(tiers={"base": {"url": page}}).tiers["base"].url == (
        "https://acme-base-llm.hf.space"
    )
    insecure = SpaceConfig(url="http://llm.internal:8000", allow_insecure_http=True)
    assert insecure.url == "http://llm.internal:8000"


def test_a_bad_url_keeps_its_own_message_and_hint() -> None:
    with pytest.raises(SpaceConfigError) as info:
        SpaceConfig(url="ftp://acme.example")
    assert info.value.message == "url 'ftp://acme.example' is not an http(s) URL with a host."
    assert info.value.hint == URL_HINT
    with pytest.raises(SpaceConfigError) as info:
        SpacesSettings(tiers={"user": {"url": "http://acme.example"}})
    assert info.value.tier == "user"
    assert "plain http" in info.value.message


NON_DEFAULT: dict[str, Any] = {
    "url": "http://llm.internal:8000",
    "space_id": "Acme/Internal_LLM",
    "endpoint": "/v1/generate",
    "token_env": "ACME_TOKEN",
    "revision": "r7",
    "protocol": "tgi",
    "api_name": "/chat",
    "model": "acme/llm",
    "allow_insecure_http": True,
    "connect_timeout": 3.0,
    "read_timeout": 45.0,
    "total_timeout": 90.0,
    "pool_timeout": 15.0,
    "max_retries": 5,
    "retry_initial_delay": 0.25,
    "retry_max_delay": 2.0,
    "max_retry_after": 30.0,
    "wake_timeout": 600.0,
    "wake_poll_interval": 2.5,
    "max_response_bytes": 1024,
    "max_prompt_chars": 5000,
    "variants": (
        SpaceVariant(name="a", weight=3.0),
        SpaceVariant(name="b", weight=1.0, url="http://llm.internal:8001", revision="r8"),
    ),
}


def test_every_field_survives_the_file_format() -> None:
    assert set(NON_DEFAULT) == set(SpaceConfig.model_fields) - {"token"}
    settings = SpacesSettings(tiers={"base": SpaceConfig(**NON_DEFAULT, token="hf_secret_x")})
    data = settings.to_toml_dict()
    assert "token" not in data["tiers"]["base"]
    again = SpacesSettings(**data).tiers["base"]
    assert {field: getattr(again, field) for field in NON_DEFAULT} == NON_DEFAULT
    minimal = SpacesSettings(tiers={"base": SpaceConfig(url=URL)}).to_toml_dict()
    assert minimal["tiers"]["base"] == {
        "url": URL,
        "endpoint": "/api/generate",
        "protocol": "generate",
    }
