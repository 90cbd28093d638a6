"""Settings from the environment: every field has a variable, and a misspelt one is an error.

Every ``SpaceConfig`` field is ``HF_SPACES_<TIER>_<FIELD>``; values are parsed by the field's
type and bounds, and errors name the variable. An ``HF_SPACES_*`` variable that is not a setting
names the closest one instead of being ignored; tier names stay free.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic.fields import FieldInfo

from langchain_hf_spaces import SpaceConfig, SpaceConfigError, SpacesSettings, SpaceVariant
from langchain_hf_spaces._loading import OTHER_ENV, parse_env_value, split_env_var
from langchain_hf_spaces.config import _schema

ROOT = Path(__file__).resolve().parent.parent
URL = "https://acme-base.hf.space"
TOKEN = "hf_ENVtokenNeverShown0123456789abcd"

# field -> (the variable's value, what the loaded SpaceConfig holds); none is the default.
SAMPLES: dict[str, tuple[str, Any]] = {
    "url": ("https://huggingface.co/spaces/Acme/Co_LLM", "https://acme-co-llm.hf.space"),
    "space_id": ("Acme/Co_LLM", "Acme/Co_LLM"),
    "endpoint": ("v1/generate", "/v1/generate"),
    "token": (TOKEN, TOKEN),
    "token_env": ("ACME_TOKEN", "ACME_TOKEN"),
    "revision": ("2024-06", "2024-06"),
    "protocol": ("TGI", "tgi"),
    "api_name": ("/chat", "/chat"),
    "model": ("acme/llm-7b", "acme/llm-7b"),
    "allow_insecure_http": ("yes", True),
    "connect_timeout": ("3.5", 3.5),
    "read_timeout": (" 45 ", 45.0),
    "total_timeout": ("90", 90.0),
    "pool_timeout": ("15", 15.0),
    "max_retries": ("5", 5),
    "retry_initial_delay": ("0.25", 0.25),
    "retry_max_delay": ("2", 2.0),
    "max_retry_after": ("30", 30.0),
    "wake_timeout": ("600", 600.0),
    "wake_poll_interval": ("2.5", 2.5),
    "max_response_bytes": ("1024", 1024),
    "max_prompt_chars": ("5000", 5000),
    "variants": (
        '[{"weight": 3}, {"url": "acme/b", "weight": 1}]',
        (
            SpaceVariant(name="a", weight=3),
            SpaceVariant(name="b", url="https://acme-b.hf.space", space_id="acme/b", weight=1),
        ),
    ),
}


def _loaded(cfg: SpaceConfig, field: str) -> Any:
    return cfg.resolve_token() if field == "token" else getattr(cfg, field)


def test_the_samples_cover_every_field() -> None:
    assert set(SAMPLES) == set(SpaceConfig.model_fields)
    defaults = SpaceConfig(url="http://127.0.0.1:1")
    for field, (_, expected) in SAMPLES.items():
        assert _loaded(defaults, field) != expected, field


@pytest.mark.parametrize("field", sorted(SAMPLES))
def test_every_field_is_read_from_the_environment(field: str) -> None:
    raw, expected = SAMPLES[field]
    env = {"HF_SPACES_COMPANY_URL": "https://acme-company.hf.space"}
    env[f"HF_SPACES_COMPANY_{field.upper()}"] = raw
    settings = SpacesSettings.from_env({"HF_SPACES_BASE_URL": URL, **env})
    assert _loaded(settings.tiers["company"], field) == expected


def test_the_environment_overrides_every_field_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "hf-spaces.toml"
    path.write_text(
        'version = 1\n[tiers.base]\nurl = "https://acme-file.hf.space"\n'
        "read_timeout = 60\nmax_retries = 1\nwake_timeout = 10\nallow_insecure_http = true\n",
        encoding="utf-8",
    )
    env = {
        "HF_SPACES_BASE_READ_TIMEOUT": "5",
        "HF_SPACES_BASE_MAX_RETRIES": "0",
        "HF_SPACES_BASE_ALLOW_INSECURE_HTTP": "off",
    }
    base = SpacesSettings.load(path, environ=env).tiers["base"]
    assert (base.read_timeout, base.max_retries, base.allow_insecure_http) == (5.0, 0, False)
    assert base.wake_timeout == 10.0  # not in the environment: the file's value
    assert base.url == "https://acme-file.hf.space"


def test_custom_tier_names_with_underscores_and_dashes(tmp_path: Path) -> None:
    path = tmp_path / "hf-spaces.toml"
    path.write_text(
        'version = 1\n[tiers.base]\nurl = "https://acme-base.hf.space"\n'
        '[tiers.staging-2]\nurl = "https://acme-staging.hf.space"\n',
        encoding="utf-8",
    )
    env = {
        "HF_SPACES_STAGING_2_WAKE_TIMEOUT": "42",
        "HF_SPACES_MY_TIER_URL": "https://acme-mine.hf.space",
        "HF_SPACES_MY_TIER_MAX_RETRIES": "7",
        "HF_SPACES_MY_TIER_TOKEN_ENV": "MY_TIER_SECRET",
    }
    settings = SpacesSettings.load(path, environ=env)
    assert sorted(settings.tiers) == ["base", "my_tier", "staging-2"]
    assert settings.tiers["staging-2"].wake_timeout == 42.0
    mine = settings.tiers["my_tier"]
    assert (mine.url, mine.max_retries, mine.token_env) == (
        "https://acme-mine.hf.space",
        7,
        "MY_TIER_SECRET",
    )


@pytest.mark.parametrize(
    ("var", "field"),
    [
        ("HF_SPACES_BASE_URL", ("BASE", "url")),
        ("HF_SPACES_BASE_TOKEN_ENV", ("BASE", "token_env")),
        ("HF_SPACES_A_B_MAX_RETRY_AFTER", ("A_B", "max_retry_after")),
        ("HF_SPACES_READ_TIMEOUT", None),  # a field, but no tier
        ("HF_SPACES_BASE_URLL", None),
    ],
)
def test_variables_split_into_tier_and_longest_field(
    var: str, field: tuple[str, str] | None
) -> None:
    assert split_env_var(var, _schema().env_fields) == field


@pytest.mark.parametrize(
    ("var", "suggestion"),
    [
        ("HF_SPACES_DEFUALT_TIER", "HF_SPACES_DEFAULT_TIER"),
        ("HF_SPACES_ENABLE", "HF_SPACES_ENABLED"),
        ("HF_SPACES_CONFG", "HF_SPACES_CONFIG"),
        ("HF_SPACES_BASE_URLL", "HF_SPACES_BASE_URL"),
        ("HF_SPACES_COMPANY_WAKE_TIMOUT", "HF_SPACES_COMPANY_WAKE_TIMEOUT"),
        ("HF_SPACES_BASE_MAXRETRIES", "HF_SPACES_BASE_MAX_RETRIES"),
        ("HF_SPACES_MYTIER_ENDPIONT", "HF_SPACES_MYTIER_ENDPOINT"),  # a tier not configured yet
        ("HF_SPACES_READ_TIMEOUT", "HF_SPACES_BASE_READ_TIMEOUT"),  # the tier is missing
        ("HF_SPACES_company_url", "HF_SPACES_COMPANY_URL"),  # names are upper case
    ],
)
def test_a_misspelt_variable_names_itself_and_the_closest_name(var: str, suggestion: str) -> None:
    env = {"HF_SPACES_BASE_URL": URL, "HF_SPACES_BASE_TOKEN": TOKEN, var: "1"}
    with pytest.raises(SpaceConfigError) as info:
        SpacesSettings.load(environ=env)
    message = info.value.message
    assert var in message
    assert f"did you mean {suggestion}?" in message
    assert TOKEN not in str(info.value)
    with pytest.raises(SpaceConfigError, match=re.escape(f"did you mean {suggestion}?")):
        SpacesSettings.from_env(env)


def test_every_misspelt_variable_is_named_at_once() -> None:
    env = {"HF_SPACES_BASE_URL": URL, "HF_SPACES_BASE_URLL": "x", "HF_SPACES_ENABLD": "1"}
    with pytest.raises(SpaceConfigError) as info:
        SpacesSettings.from_env(env)
    assert "HF_SPACES_BASE_URLL" in info.value.message
    assert "HF_SPACES_ENABLD" in info.value.message
    assert "HF_SPACES_ENABLED" in info.value.message


def test_settings_for_a_custom_tier_without_url_are_an_error() -> None:
    with pytest.raises(SpaceConfigError, match="tier 'mytier' has settings but no url") as info:
        SpacesSettings.from_env({"HF_SPACES_BASE_URL": URL, "HF_SPACES_MYTIER_MAX_RETRIES": "3"})
    assert info.value.hint == "Set HF_SPACES_MYTIER_URL or url in [tiers.mytier]."


def test_a_tier_part_that_is_not_a_tier_name_is_named() -> None:
    with pytest.raises(SpaceConfigError, match="HF_SPACES_2ND_URL: '2nd' is not a tier name"):
        SpacesSettings.from_env({"HF_SPACES_BASE_URL": URL, "HF_SPACES_2ND_URL": URL})


def test_variables_read_for_other_purposes_are_not_settings(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text(
        f'version = 1\n[tiers.base]\nurl = "{URL}"\ntoken_env = "HF_SPACES_DEMO_USER_TOKEN"\n',
        encoding="utf-8",
    )
    env = {
        "HF_SPACES_CONFIG": str(path),
        "HF_SPACES_DEMO_USER_TOKEN": "hf_demo",  # the file's token_env
        "HF_SPACES_USER_URL": "https://acme-user.hf.space",
        "HF_SPACES_USER_TOKEN_ENV": "HF_SPACES_USER_SECRET",
        "HF_SPACES_USER_SECRET": "hf_user",  # named by HF_SPACES_USER_TOKEN_ENV
    }
    settings = SpacesSettings.load(environ=env)
    assert sorted(settings.tiers) == ["base", "user"]
    assert settings.tiers["base"].token_env == "HF_SPACES_DEMO_USER_TOKEN"
    assert settings.tiers["user"].token_env == "HF_SPACES_USER_SECRET"


def _names_used_in(paths: list[Path]) -> set[str]:
    found: set[str] = set()
    for path in paths:
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r"\bHF_SPACES_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_<])", text))
    return found


def test_every_variable_the_package_and_docs_name_is_accepted() -> None:
    paths = [*(ROOT / "langchain_hf_spaces").rglob("*.py"), *(ROOT / "docs").glob("*.md")]
    paths += [ROOT / "README.md", *(ROOT / "llama_index_hf_spaces").rglob("*.py")]
    names = _names_used_in(paths)
    assert {"HF_SPACES_CONFIG", "HF_SPACES_ENABLED", "HF_SPACES_BASE_URL"} <= names
    misspelt = {"HF_SPACES_DEFUALT_TIER"}  # docs/configuration.md shows the error it gives
    assert misspelt <= names
    schema = _schema()
    for name in names - misspelt:
        accepted = name in OTHER_ENV or name in schema.env_settings
        assert accepted or split_env_var(name, schema.env_fields) is not None, name


@pytest.mark.parametrize(
    ("var", "raw", "fragment"),
    [
        ("HF_SPACES_BASE_MAX_RETRIES", "lots", "HF_SPACES_BASE_MAX_RETRIES='lots': "),
        ("HF_SPACES_BASE_MAX_RETRIES", "-1", "greater than or equal to 0"),
        ("HF_SPACES_BASE_MAX_RETRIES", "21", "less than or equal to 20"),
        ("HF_SPACES_BASE_READ_TIMEOUT", "0", "HF_SPACES_BASE_READ_TIMEOUT='0': "),
        ("HF_SPACES_BASE_ALLOW_INSECURE_HTTP", "maybe", "is not a boolean"),
        ("HF_SPACES_ENABLED", "maybe", "HF_SPACES_ENABLED='maybe' is not a boolean"),
    ],
)
def test_bad_values_name_the_variable(var: str, raw: str, fragment: str) -> None:
    with pytest.raises(SpaceConfigError, match=re.escape(fragment)) as info:
        SpacesSettings.from_env({"HF_SPACES_BASE_URL": URL, var: raw})
    assert var in info.value.message


def test_a_token_from_the_environment_stays_secret() -> None:
    value = parse_env_value("HF_SPACES_BASE_TOKEN", TOKEN, SpaceConfig.model_fields["token"])
    assert TOKEN not in repr(value)
    assert value.get_secret_value() == TOKEN


@pytest.mark.parametrize(
    ("raw", "expected"),
    [('["a", "b c"]', ["a", "b c"]), ("a, b c ,, d", ["a", "b c", "d"]), ("[]", [])],
)
def test_list_fields_take_json_or_comma_lists(raw: str, expected: list[str]) -> None:
    field = FieldInfo.from_annotation(list[str])
    assert parse_env_value("HF_SPACES_BASE_STOP", raw, field) == expected


def test_a_bad_json_list_names_the_variable() -> None:
    with pytest.raises(SpaceConfigError, match="HF_SPACES_BASE_STOP='\\[1,' is not a JSON list"):
        parse_env_value("HF_SPACES_BASE_STOP", "[1,", FieldInfo.from_annotation(list[int]))
