"""Settings profiles (staging / production): ``[profiles.<name>]`` tables over the base settings.

The layers, lowest first: defaults < the file < the profile < the environment < code. Checked
here on files and environments of each test's own, and on answers from real LocalSpaces: the
client, both frameworks, sync and async, name the profile they were made from.
"""

from __future__ import annotations

import asyncio
import copy
import os
import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from langchain_hf_spaces import SpaceConfig, SpaceConfigError, SpacesClient, SpacesSettings
from langchain_hf_spaces.cli._toml import dumps_toml, has_tokens, loads_toml
from langchain_hf_spaces.config import SettingsFileWarning
from langchain_hf_spaces.testing import LocalSpace

BASE_FILE = """\
version = 1
default_tier = "base"

[tiers.base]
url = "acme/base-llm"
max_retries = 2
revision = "v1"

[tiers.company]
url = "https://company.example.com"
space_id = "acme/company"

[profiles.staging]
default_tier = "company"

[profiles.staging.tiers.base]
url = "acme/base-llm-staging"
revision = "v2-rc1"

[profiles.staging.tiers.company]
url = "https://company-staging.example.com"

[profiles.staging.tiers.canary]
url = "acme/canary"

[profiles.production]
enabled = false
"""


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "hf-spaces.toml"
    path.write_text(BASE_FILE)
    return path


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HF_SPACES_"):
            monkeypatch.delenv(name)


# ---------------------------------------------------------------------------------- merging
def test_no_profile_is_the_base_settings(settings_file: Path) -> None:
    settings = SpacesSettings.load(settings_file, environ={})
    assert settings.profile is None
    assert settings.default_tier == "base"
    assert sorted(settings.tiers) == ["base", "company"]
    assert settings.tiers["base"].url == "https://acme-base-llm.hf.space"
    assert sorted(settings.profiles) == ["production", "staging"]


def test_a_profile_overrides_single_fields_of_a_tier_and_adds_tiers(settings_file: Path) -> None:
    settings = SpacesSettings.load(settings_file, environ={}, profile="staging")
    assert settings.profile == "staging"
    assert settings.default_tier == "company"
    assert sorted(settings.tiers) == ["base", "canary", "company"]
    base = settings.tiers["base"]
    assert base.url == "https://acme-base-llm-staging.hf.space"
    assert base.space_id == "acme/base-llm-staging"
    assert base.revision == "v2-rc1"
    assert base.max_retries == 2  # not in the profile: the base tier's
    # A url changed without a space_id: the base tier's space_id is not kept.
    assert settings.tiers["company"].url == "https://company-staging.example.com"
    assert settings.tiers["company"].space_id is None
    assert settings.tiers["canary"].url == "https://acme-canary.hf.space"


def test_a_profile_sets_top_level_keys(settings_file: Path) -> None:
    settings = SpacesSettings.load(settings_file, environ={}, profile="production")
    assert settings.enabled is False
    assert settings.tiers["base"].url == "https://acme-base-llm.hf.space"


def test_hf_spaces_profile_chooses_and_the_argument_wins(settings_file: Path) -> None:
    env = {"HF_SPACES_PROFILE": "staging"}
    assert SpacesSettings.load(settings_file, environ=env).profile == "staging"
    assert SpacesSettings.load(settings_file, environ=env, profile="production").profile == (
        "production"
    )
    assert SpacesSettings.load(settings_file, environ={"HF_SPACES_PROFILE": " "}).profile is None


def test_the_environment_overrides_the_profile(settings_file: Path) -> None:
    env = {
        "HF_SPACES_PROFILE": "staging",
        "HF_SPACES_BASE_REVISION": "hotfix",
        "HF_SPACES_BASE_MAX_RETRIES": "7",
        "HF_SPACES_DEFAULT_TIER": "canary",
    }
    settings = SpacesSettings.load(settings_file, environ=env)
    assert settings.tiers["base"].revision == "hotfix"  # env over the profile's v2-rc1
    assert settings.tiers["base"].max_retries == 7
    assert settings.tiers["base"].url == "https://acme-base-llm-staging.hf.space"  # the profile
    assert settings.default_tier == "canary"
    # An env variable for a tier only the profile defines applies to it.
    env = {"HF_SPACES_PROFILE": "staging", "HF_SPACES_CANARY_MAX_RETRIES": "0"}
    assert SpacesSettings.load(settings_file, environ=env).tiers["canary"].max_retries == 0


def test_the_process_environment_is_read_too(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_SPACES_CONFIG", str(settings_file))
    monkeypatch.setenv("HF_SPACES_PROFILE", "staging")
    assert SpacesSettings.load().default_tier == "company"


def test_settings_in_code_apply_their_profile() -> None:
    settings = SpacesSettings(
        tiers={"base": SpaceConfig(url="acme/prod", max_retries=1)},
        profiles={
            "staging": {"tiers": {"base": {"url": "acme/staging"}}},
            "local": {"tiers": {"base": SpaceConfig(url="http://127.0.0.1:9")}},
        },
        profile="staging",
    )
    assert settings.profile == "staging"
    assert settings.tiers["base"].url == "https://acme-staging.hf.space"
    assert settings.tiers["base"].max_retries == 1
    # A SpaceConfig in a profile replaces the tier.
    local = settings.with_profile("local")
    assert local.profile == "local"
    assert local.tiers["base"].url == "http://127.0.0.1:9"
    assert local.tiers["base"].max_retries == SpaceConfig(url="x/y").max_retries
    plain = settings.with_profile(None)
    assert plain.profile is None
    assert plain.tiers["base"].url == "https://acme-prod.hf.space"


def test_a_profile_keeps_a_token_provider() -> None:
    base = SpaceConfig(url="acme/prod").with_token_provider(lambda: "hf_rotating")
    settings = SpacesSettings(
        tiers={"base": base},
        profiles={"staging": {"tiers": {"base": {"url": "acme/staging"}}}},
        profile="staging",
    )
    assert settings.tiers["base"].resolve_token() == "hf_rotating"


# ----------------------------------------------------------------------------------- errors
def test_an_unknown_profile_names_the_known_ones(settings_file: Path) -> None:
    with pytest.raises(SpaceConfigError) as err:
        SpacesSettings.load(settings_file, environ={}, profile="stagin")
    assert "did you mean 'staging'?" in err.value.message
    assert "production, staging" in err.value.message
    assert "[profiles.stagin]" in err.value.hint
    with pytest.raises(SpaceConfigError, match="HF_SPACES_PROFILE='prod'"):
        SpacesSettings.load(settings_file, environ={"HF_SPACES_PROFILE": "prod"})


def test_a_profile_without_profiles_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "plain.toml").write_text('version = 1\n[tiers.base]\nurl = "acme/base"\n')
    with pytest.raises(SpaceConfigError, match="define no profile"):
        SpacesSettings.load(tmp_path / "plain.toml", environ={}, profile="staging")
    with pytest.raises(SpaceConfigError, match="define no profile"):
        SpacesSettings.from_env({"HF_SPACES_BASE_URL": "acme/x", "HF_SPACES_PROFILE": "staging"})
    with pytest.raises(SpaceConfigError, match="non-empty"):
        SpacesSettings.load(tmp_path / "plain.toml", environ={}, profile="")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[profiles.staging]\ndefault_teir = 'base'\n", "did you mean 'default_tier'?"),
        ("[profiles.staging.tiers.base]\nmax_retry = 1\n", "did you mean 'max_retries'?"),
        ("[profiles.staging.tiers.base]\nmax_retries = -1\n", "profile 'staging'"),
        ("[profiles.staging.tiers.base]\nurl = 'ftp://x'\n", "profile 'staging'"),
        ("[profiles.Staging]\ndefault_tier = 'base'\n", "profile name 'Staging' is invalid"),
        ("[profiles]\nstaging = 1\n", "profile 'staging' must be a table"),
    ],
)
def test_a_bad_profile_in_the_file_is_refused_even_when_unused(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "hf-spaces.toml"
    path.write_text('version = 1\n[tiers.base]\nurl = "acme/base"\n\n' + text)
    with pytest.raises(SpaceConfigError) as err:
        SpacesSettings.load(path, environ={})
    assert expected in str(err.value)


def test_the_file_does_not_choose_its_profile(tmp_path: Path) -> None:
    path = tmp_path / "hf-spaces.toml"
    path.write_text('version = 1\nprofile = "staging"\n[tiers.base]\nurl = "acme/base"\n')
    with pytest.raises(SpaceConfigError) as err:
        SpacesSettings.load(path, environ={})
    assert "is not a setting of the file" in err.value.message
    assert "HF_SPACES_PROFILE" in err.value.hint


def test_an_error_of_the_merged_settings_names_the_profile() -> None:
    with pytest.raises(SpaceConfigError) as err:
        SpacesSettings(
            tiers={"base": SpaceConfig(url="acme/base")},
            profiles={"staging": {"default_tier": "company"}},
            profile="staging",
        )
    assert "with profile 'staging'" in err.value.message
    assert "default_tier 'company' is not configured" in err.value.message


def test_tiers_only_in_profiles_ask_for_a_profile(tmp_path: Path) -> None:
    path = tmp_path / "hf-spaces.toml"
    path.write_text('version = 1\n[profiles.staging.tiers.base]\nurl = "acme/staging"\n')
    with pytest.raises(SpaceConfigError, match="outside the profiles"):
        SpacesSettings.load(path, environ={})
    assert SpacesSettings.load(path, environ={}, profile="staging").tiers["base"].url == (
        "https://acme-staging.hf.space"
    )


def test_a_token_is_never_in_an_error(tmp_path: Path) -> None:
    secret = "hf_ProfileSecret0123456789abcdefXYZ"
    path = tmp_path / "hf-spaces.toml"
    path.write_text(
        'version = 1\n[tiers.base]\nurl = "acme/base"\n'
        f'[profiles.staging.tiers.base]\ntoken_env = "{secret}"\n'
    )
    with pytest.raises(SpaceConfigError) as err:
        SpacesSettings.load(path, environ={})
    assert secret not in str(err.value) and secret not in repr(err.value)


# ------------------------------------------------------------------------------- round trip
def test_to_toml_dict_round_trips_the_profiles(settings_file: Path) -> None:
    settings = SpacesSettings.load(settings_file, environ={})
    data = settings.to_toml_dict()
    assert data["profiles"]["staging"]["tiers"]["canary"] == {"url": "acme/canary"}
    assert SpacesSettings(**data) == settings
    assert SpacesSettings(**loads_toml(dumps_toml(data))) == settings
    staged = SpacesSettings(**data, profile="staging")
    assert staged.tiers == SpacesSettings.load(settings_file, environ={}, profile="staging").tiers


def test_to_toml_dict_with_a_profile_in_effect_writes_the_base(settings_file: Path) -> None:
    staged = SpacesSettings.load(settings_file, environ={}, profile="staging")
    data = staged.to_toml_dict()
    assert "profile" not in data
    assert data["default_tier"] == "base"
    assert sorted(data["tiers"]) == ["base", "company"]
    assert data["tiers"]["base"]["revision"] == "v1"
    assert data["profiles"] == SpacesSettings.load(settings_file, environ={}).profiles
    reloaded = SpacesSettings(**loads_toml(dumps_toml(data)), profile="staging")
    assert reloaded.tiers == staged.tiers and reloaded.default_tier == staged.default_tier
    code = SpacesSettings(
        tiers={"base": SpaceConfig(url="acme/prod")},
        profiles={"staging": {"tiers": {"base": {"revision": "rc"}}}},
        profile="staging",
    )
    assert code.to_toml_dict()["tiers"]["base"]["url"] == "https://acme-prod.hf.space"


def test_tokens_in_profiles_are_written_only_when_asked(tmp_path: Path) -> None:
    token = "hf_StagingToken0123456789abcdef"
    settings = SpacesSettings(
        tiers={"base": SpaceConfig(url="acme/prod")},
        profiles={
            "staging": {"tiers": {"base": {"url": "acme/staging", "token": token}}},
            "canary": {"tiers": {"base": SpaceConfig(url="acme/canary", token=token)}},
        },
    )
    data = settings.to_toml_dict()
    assert token not in dumps_toml(data)
    assert not has_tokens(data)
    assert data["profiles"]["canary"]["tiers"]["base"]["url"] == "https://acme-canary.hf.space"
    kept = settings.to_toml_dict(include_tokens=True)
    assert kept["profiles"]["staging"]["tiers"]["base"]["token"] == token
    assert kept["profiles"]["canary"]["tiers"]["base"]["token"] == token
    assert has_tokens(kept)
    assert token not in repr(settings)
    staged = settings.with_profile("staging")
    assert staged.tiers["base"].resolve_token() == token


def test_a_readable_file_with_a_token_in_a_profile_warns(tmp_path: Path) -> None:
    path = tmp_path / "hf-spaces.toml"
    path.write_text(
        'version = 1\n[tiers.base]\nurl = "acme/base"\n'
        '[profiles.staging.tiers.base]\ntoken = "hf_StagingToken0123456789abcdef"\n'
    )
    path.chmod(0o644)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SpacesSettings.load(path, environ={})
    assert any(issubclass(w.category, SettingsFileWarning) for w in caught)


def test_an_old_file_keeps_its_profiles_when_migrated(tmp_path: Path) -> None:
    from langchain_hf_spaces.cli import main

    path = tmp_path / "hf-spaces.toml"
    path.write_text(
        '[base]\nurl = "acme/base"\n\n[profiles.staging.tiers.base]\nurl = "acme/staging"\n'
    )
    assert main(["--config", str(path), "init"]) == 0
    data = loads_toml(path.read_text())
    assert data["tiers"] == {"base": {"url": "acme/base"}}
    assert data["profiles"] == {"staging": {"tiers": {"base": {"url": "acme/staging"}}}}


def test_the_settings_page_keeps_the_profiles() -> None:
    from langchain_hf_spaces.cli._ui._form import apply_form

    raw = loads_toml(BASE_FILE)
    form = {
        "enabled": True,
        "default_tier": "base",
        "tiers": [{"name": "base", "values": {"url": "acme/base-llm"}}],
    }
    result = apply_form(raw, form)
    assert result.errors == {}
    assert result.data is not None
    assert result.data["profiles"] == raw["profiles"]


def test_settings_with_a_profile_pickle_and_copy(settings_file: Path) -> None:
    staged = SpacesSettings.load(settings_file, environ={}, profile="staging")
    for clone in (pickle.loads(pickle.dumps(staged)), copy.deepcopy(staged)):  # noqa: S301
        assert clone.profile == "staging"
        assert clone.tiers == staged.tiers
        assert clone.to_toml_dict() == staged.to_toml_dict()


# ---------------------------------------------------------------------- answers name the profile
@pytest.fixture(scope="module")
def two_spaces() -> Iterator[tuple[LocalSpace, LocalSpace]]:
    with LocalSpace(name="production") as production, LocalSpace(name="staging") as staging:
        yield production, staging


def _settings(spaces: tuple[LocalSpace, LocalSpace], profile: str | None) -> SpacesSettings:
    production, staging = spaces
    return SpacesSettings(
        tiers={"base": {"url": production.url, "max_retries": 0}},
        profiles={
            "staging": {"tiers": {"base": {"url": staging.url}}},
            "production": {},
        },
        profile=profile,
    )


def test_the_client_labels_answers_with_the_profile(
    two_spaces: tuple[LocalSpace, LocalSpace],
) -> None:
    with SpacesClient(_settings(two_spaces, "staging")) as spaces:
        assert spaces.space().profile == "staging"
        answer = spaces.complete("A slogan")
        assert answer.text.startswith("Demo answer from staging")
        assert answer.profile == "staging"
        assert answer.metadata["profile"] == "staging"
        chunks = list(spaces.stream_chunks("A slogan"))
        final = chunks[-1].answer
        assert final is not None and final.profile == "staging"
    with SpacesClient(_settings(two_spaces, None)) as spaces:
        answer = spaces.complete("A slogan")
        assert answer.text.startswith("Demo answer from production")
        assert answer.profile is None and "profile" not in answer.metadata


def test_the_async_client_labels_answers_with_the_profile(
    two_spaces: tuple[LocalSpace, LocalSpace],
) -> None:
    async def run() -> tuple[Any, Any]:
        async with SpacesClient(_settings(two_spaces, "production")) as spaces:
            answer = await spaces.acomplete("A slogan")
            last = None
            async for chunk in spaces.astream_chunks("A haiku"):
                last = chunk
            return answer, last

    answer, last = asyncio.run(run())
    assert answer.text.startswith("Demo answer from production")
    assert answer.metadata["profile"] == "production"
    assert last is not None and last.answer is not None
    assert last.answer.metadata["profile"] == "production"


def test_langchain_models_label_answers_with_the_profile(
    two_spaces: tuple[LocalSpace, LocalSpace],
) -> None:
    from langchain_hf_spaces import ChatHuggingFaceSpace, HuggingFaceSpaceLLM

    settings = _settings(two_spaces, "staging")
    chat = ChatHuggingFaceSpace(settings=settings)
    reply = chat.invoke("A slogan")
    assert reply.response_metadata["profile"] == "staging"
    areply = asyncio.run(chat.ainvoke("A slogan"))
    assert areply.response_metadata["profile"] == "staging"
    llm = HuggingFaceSpaceLLM(settings=settings)
    result = llm.generate(["A slogan"])
    info = result.generations[0][0].generation_info
    assert info is not None and info["profile"] == "staging"
    # From a SpacesClient the label comes with its clients.
    with SpacesClient(settings) as spaces:
        through = ChatHuggingFaceSpace(spaces=spaces).invoke("A slogan")
    assert through.response_metadata["profile"] == "staging"
    # Settings without a profile: no label.
    plain = ChatHuggingFaceSpace(settings=_settings(two_spaces, None)).invoke("A slogan")
    assert "profile" not in plain.response_metadata


def test_langchain_models_read_hf_spaces_profile(
    two_spaces: tuple[LocalSpace, LocalSpace],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from langchain_hf_spaces import ChatHuggingFaceSpace
    from langchain_hf_spaces.cli._toml import dumps_toml

    path = tmp_path / "hf-spaces.toml"
    path.write_text(dumps_toml(_settings(two_spaces, None).to_toml_dict()))
    monkeypatch.setenv("HF_SPACES_CONFIG", str(path))
    monkeypatch.setenv("HF_SPACES_PROFILE", "staging")
    reply = ChatHuggingFaceSpace(tier="base").invoke("A slogan")
    assert reply.response_metadata["profile"] == "staging"
    assert "Demo answer from staging" in str(reply.content)


def test_llama_index_labels_answers_with_the_profile(
    two_spaces: tuple[LocalSpace, LocalSpace],
) -> None:
    from llama_index_hf_spaces import HuggingFaceSpaceLLM

    llm = HuggingFaceSpaceLLM(settings=_settings(two_spaces, "staging"))
    response = llm.complete("A slogan")
    assert response.additional_kwargs["profile"] == "staging"
    assert response.text.startswith("Demo answer from staging")
    aresponse = asyncio.run(llm.acomplete("A slogan"))
    assert aresponse.additional_kwargs["profile"] == "staging"
    # A copy builds its own client, with the same label.
    for clone in (copy.deepcopy(llm), pickle.loads(pickle.dumps(llm))):  # noqa: S301
        assert clone.complete("A slogan").additional_kwargs["profile"] == "staging"
    plain = HuggingFaceSpaceLLM(settings=_settings(two_spaces, None)).complete("A slogan")
    assert "profile" not in plain.additional_kwargs


def test_a_profile_without_tiers_over_a_base_without_tiers(tmp_path: Path) -> None:
    path = tmp_path / "hf-spaces.toml"
    path.write_text('version = 1\n[profiles.empty]\ndefault_tier = "base"\n')
    with pytest.raises(SpaceConfigError) as err:
        SpacesSettings.load(path, environ={}, profile="empty")
    assert err.value.message.startswith("with profile 'empty': ")
    assert "no tier is configured" in err.value.message
    assert "outside the profiles" not in err.value.message
