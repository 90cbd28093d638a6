"""Loading settings: the TOML file, the ``HF_SPACES_*`` environment, and the names both may use.

Nothing here knows the settings models: :mod:`langchain_hf_spaces.config` passes their fields in
(a :class:`Schema`), so every ``SpaceConfig`` field is settable from the file and from the
environment without a hand-kept list, and a name that is not a field is an error naming the
closest one instead of being ignored.

Environment names: ``HF_SPACES_<SETTING>`` for a top-level setting (``HF_SPACES_ENABLED``,
``HF_SPACES_DEFAULT_TIER``), ``HF_SPACES_<TIER>_<FIELD>`` for a Space's field
(``HF_SPACES_BASE_WAKE_TIMEOUT``), where ``<TIER>`` is the tier name in upper case with ``-``
written as ``_`` and ``<FIELD>`` a ``SpaceConfig`` field in upper case. Tier names are free, so
the field is the longest field name the variable ends with and the rest is the tier.

The ambient Hugging Face login (``HF_TOKEN``, ``HUGGING_FACE_HUB_TOKEN``, the token file that
``hf auth login`` saves) is found here too: :func:`ambient_token`.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
import time
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import SecretStr, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces.errors import SpaceConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CONFIG_ENV = C.ENV_PREFIX + "CONFIG"
"""The variable naming the settings file."""

PROFILE_ENV = C.ENV_PREFIX + "PROFILE"
"""The variable naming the settings profile to use (``staging``, ``production``)."""

OTHER_ENV: frozenset[str] = frozenset({CONFIG_ENV, PROFILE_ENV, C.GATEWAY_API_KEY_ENV})
"""``HF_SPACES_*`` variables the package reads for something other than a setting."""

FILE_ONLY_SETTINGS: frozenset[str] = frozenset({"version", "tiers", "profiles", "profile"})
"""Top-level settings that have no environment variable of their own (the profile in use is
chosen with :data:`PROFILE_ENV`, read before the other variables)."""

PROFILE_KEYS: tuple[str, ...] = ("enabled", "default_tier", "tiers")
"""What a ``[profiles.<name>]`` table may set: the top-level settings it overrides."""

TIER_RE = re.compile(C.TIER_NAME_PATTERN)
_CUTOFF = 0.6


@dataclass(frozen=True)
class Schema:
    """The fields of the settings models: ``top`` (SpacesSettings) and ``space`` (SpaceConfig)."""

    top: Mapping[str, FieldInfo]
    space: Mapping[str, FieldInfo]

    @property
    def env_settings(self) -> dict[str, str]:
        """Top-level variable -> setting, e.g. ``HF_SPACES_ENABLED`` -> ``enabled``."""
        return {
            C.ENV_PREFIX + name.upper(): name for name in self.top if name not in FILE_ONLY_SETTINGS
        }

    @property
    def env_fields(self) -> dict[str, str]:
        """``<FIELD>`` -> field, longest first (the order variables are split in)."""
        names = sorted(self.space, key=lambda n: (-len(n), n))
        return {name.upper(): name for name in names}


def is_tier_name(name: object) -> bool:
    """True when ``name`` is a whole tier name (``[a-z][a-z0-9_-]*``, nothing after it)."""
    return isinstance(name, str) and TIER_RE.fullmatch(name) is not None


def env_tier(tier: str) -> str:
    """How ``tier`` is written in a variable name: ``staging-2`` -> ``STAGING_2``."""
    return tier.upper().replace("-", "_")


def env_var(tier: str, field: str) -> str:
    """The variable setting ``field`` of ``tier``: ``HF_SPACES_BASE_WAKE_TIMEOUT``."""
    return f"{C.ENV_PREFIX}{env_tier(tier)}_{field.upper()}"


ARGUMENT_CUTOFF = 0.8
"""How alike a constructor argument must be to a field to count as its misspelling (stricter
than settings keys: an unknown argument is otherwise a parameter sent to the Space)."""


def closest(name: str, candidates: Iterable[str], *, cutoff: float = _CUTOFF) -> str | None:
    """The candidate most like ``name`` (difflib), or ``None`` when none is close."""
    found = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=cutoff)
    return found[0] if found else None


# ------------------------------------------------------------------------------------ the file
def find_settings_file(path: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path | None:
    """``path``, else ``$HF_SPACES_CONFIG``, else ``./hf-spaces.toml`` when it exists, else the
    user's ``hf-spaces.toml`` (:func:`user_settings_file`) when it exists."""
    if path is not None:
        return Path(path)
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    local = Path.cwd() / C.CONFIG_FILE_NAME
    if local.is_file():
        return local
    user = user_settings_file(env)
    return user if user is not None and user.is_file() else None


def user_settings_file(env: Mapping[str, str]) -> Path | None:
    """Where the user's own settings file lives: ``$XDG_CONFIG_HOME/hf-spaces/hf-spaces.toml``
    (``~/.config/hf-spaces/hf-spaces.toml`` by default, macOS included, as the ``hf`` and
    ``gh`` CLIs do), ``%APPDATA%\\hf-spaces\\hf-spaces.toml`` on Windows. ``None`` when there
    is no home directory to put it in."""
    if os.name == "nt" and env.get("APPDATA"):
        return Path(env["APPDATA"]) / "hf-spaces" / C.CONFIG_FILE_NAME
    xdg = env.get("XDG_CONFIG_HOME", "")
    if xdg and os.path.isabs(xdg):  # the XDG spec: a relative value is ignored
        base = Path(xdg)
    else:
        home = env.get("HOME")
        if home:
            base = Path(home) / ".config"
        else:
            try:
                base = Path.home() / ".config"
            except RuntimeError:  # no home directory at all
                return None
    return base / "hf-spaces" / C.CONFIG_FILE_NAME


def read_settings_file(path: Path) -> dict[str, Any]:
    """Read and migrate a settings file into the current format's dict."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpaceConfigError(
            f"cannot read settings file {str(path)!r}: {exc.strerror or exc}.",
            hint="Check HF_SPACES_CONFIG or create the file with `hf-spaces init`.",
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpaceConfigError(f"settings file {str(path)!r} is not valid TOML: {exc}.") from None
    data, _ = migrate_settings_dict(data)
    return data


def migrate_settings_dict(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Bring a settings dict of an older ``version`` to the current one.

    Returns the migrated dict and a list of human-readable changes. Version 0 (files written
    before the ``version`` key existed, with tier tables at the top level) becomes version 1.
    """
    changes: list[str] = []
    out = dict(data)
    version = out.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise SpaceConfigError(
            f"settings `version` must be a whole number >= 0, got {version!r}.",
            hint="Write version = 1 (the current format), or run `hf-spaces init` to migrate.",
        )
    if version == 0:
        tiers = dict(out.pop("tiers", {}) or {})
        for key in list(out):
            if isinstance(out[key], dict) and key not in ("tiers", "profiles"):
                tiers[key] = out.pop(key)
                changes.append(f"moved [{key}] to [tiers.{key}]")
        out["tiers"] = tiers
        out["version"] = 1
        changes.append("added version = 1")
    return out, changes


def check_file_keys(data: Mapping[str, Any], schema: Schema, path: Path) -> None:
    """Refuse a key that is not a setting, at the top level, in a tier table or in a profile."""
    where = f"settings file {str(path)!r}"
    top = [name for name in schema.top if name != "profile"]
    for key in data:
        if key == "profile":
            raise SpaceConfigError(
                f"{where}: `profile` is not a setting of the file: a profile is chosen when the "
                "settings are loaded.",
                hint=f"Define [profiles.<name>] tables in the file and choose one with "
                f"{PROFILE_ENV}=<name>, `--profile <name>` or SpacesSettings.load(profile=...).",
            )
        if key not in top:
            raise _unknown_key(where, key, "at the top level", top, "a top-level setting")
    _check_tier_tables(where, data.get("tiers", {}), schema, "tiers")
    profiles = data.get("profiles", {})
    if not isinstance(profiles, Mapping):
        raise SpaceConfigError(
            f"{where}: `profiles` must be a table of profiles, not {type(profiles).__name__}.",
            hint="Write each profile as a [profiles.<name>] table, e.g. "
            "[profiles.staging.tiers.base] with url = ...",
        )
    for name, table in profiles.items():
        place = f"[profiles.{name}]"
        if not isinstance(table, Mapping):
            raise SpaceConfigError(
                f"{where}: profile {name!r} must be a table, not {type(table).__name__}.",
                hint=f"Write it as a {place} table (default_tier, enabled, tiers).",
            )
        for key in table:
            if key not in PROFILE_KEYS:
                raise _unknown_key(where, key, f"in {place}", PROFILE_KEYS, "a profile setting")
        _check_tier_tables(where, table.get("tiers", {}), schema, f"profiles.{name}.tiers")


def _check_tier_tables(where: str, tiers: Any, schema: Schema, prefix: str) -> None:
    if not isinstance(tiers, Mapping):
        raise SpaceConfigError(
            f"{where}: `{prefix}` must be a table of tiers, not {type(tiers).__name__}.",
            hint=f"Write each tier as a [{prefix}.<name>] table.",
        )
    for name, table in tiers.items():
        if not isinstance(table, Mapping):
            raise SpaceConfigError(
                f"{where}: tier {name!r} must be a table of settings, not {type(table).__name__}.",
                tier=str(name),
                hint=f"Write it as a [{prefix}.{name}] table with url = ...",
            )
        for key in table:
            if key not in schema.space:
                place = f"in [{prefix}.{name}]"
                raise _unknown_key(where, key, place, schema.space, "a Space field")


def profile_from_env(env: Mapping[str, str]) -> str | None:
    """The profile :data:`PROFILE_ENV` names (``None`` when unset or empty)."""
    return env.get(PROFILE_ENV, "").strip() or None


def stores_tokens(data: Mapping[str, Any]) -> bool:
    """Whether a settings dict stores a token, in a tier (or one of its A/B variants) or in a
    profile's tier."""

    def in_tier(t: Any) -> bool:
        variants = t.get("variants") or () if isinstance(t, Mapping) else ()
        return isinstance(t, Mapping) and (
            bool(t.get("token"))
            or any(isinstance(v, Mapping) and bool(v.get("token")) for v in variants)
        )

    def in_tiers(tiers: Any) -> bool:
        return isinstance(tiers, Mapping) and any(in_tier(t) for t in tiers.values())

    profiles = data.get("profiles")
    return in_tiers(data.get("tiers")) or (
        isinstance(profiles, Mapping)
        and any(isinstance(p, Mapping) and in_tiers(p.get("tiers")) for p in profiles.values())
    )


def _unknown_key(
    where: str, key: object, place: str, valid: Iterable[str], kind: str
) -> SpaceConfigError:
    guess = closest(str(key), valid)
    tail = f"did you mean {guess!r}?" if guess else f"it is not {kind}."
    return SpaceConfigError(
        f"{where}: unknown key {key!r} {place}: {tail}",
        hint=f"Valid keys {place}: {', '.join(valid)}.",
    )


# ----------------------------------------------------------------------------- the environment
def apply_environment(
    data: Mapping[str, Any], env: Mapping[str, str], schema: Schema
) -> dict[str, Any]:
    """``data`` (a settings dict) with every ``HF_SPACES_*`` variable applied on top of it."""
    out = dict(data)
    tiers: dict[str, dict[str, Any]] = {
        name: dict(cfg) for name, cfg in (out.get("tiers") or {}).items()
    }
    settings, fields = schema.env_settings, schema.env_fields
    exempt = OTHER_ENV | _token_variables(tiers, env)
    found: list[tuple[str, str, str]] = []  # (variable, tier part, field)
    unknown: list[str] = []
    for var in sorted(env):
        if not var.startswith(C.ENV_PREFIX) or var in exempt:
            continue
        if var in settings:
            out.update(_setting_from_env(var, env[var], settings[var], schema))
            continue
        parts = split_env_var(var, fields)
        if parts is None:
            unknown.append(var)
        else:
            found.append((var, *parts))
    if unknown:
        raise _unknown_variables(unknown, tiers, found, out, schema)
    by_env_name: dict[str, list[str]] = {}
    for name in tiers:
        by_env_name.setdefault(env_tier(name), []).append(name)
    for var, tier_part, field in found:
        raw = env[var]
        if raw == "":
            continue
        names = by_env_name.get(tier_part) or [tier_part.lower()]
        if not is_tier_name(names[0]):
            raise SpaceConfigError(
                f"{var}: {names[0]!r} is not a tier name ([a-z][a-z0-9_-]*).",
                hint=f"A tier name starts with a letter, e.g. {env_var(C.DEFAULT_TIER, field)}.",
            )
        value = parse_env_value(var, raw, schema.space[field])
        for name in names:
            tiers.setdefault(name, {})[field] = value
    # A tier whose env vars exist but no URL anywhere is a mistake worth naming (a tier with
    # variants may have its URLs there).
    for name, cfg in tiers.items():
        if "url" not in cfg and not cfg.get("variants"):
            raise SpaceConfigError(
                f"tier {name!r} has settings but no url.",
                tier=name,
                hint=f"Set {env_var(name, 'url')} or url in [tiers.{name}].",
            )
    out["tiers"] = tiers
    return out


def split_env_var(var: str, fields: Mapping[str, str]) -> tuple[str, str] | None:
    """``HF_SPACES_MY_TIER_MAX_RETRIES`` -> ``("MY_TIER", "max_retries")``; ``None`` if no field.

    ``fields`` maps ``<FIELD>`` to the field, longest first: the field is the longest one the
    variable ends with, after a non-empty tier part.
    """
    rest = var[len(C.ENV_PREFIX) :]
    for upper, field in fields.items():
        tier_part = rest[: -len(upper) - 1]
        if rest.endswith("_" + upper) and tier_part:
            return tier_part, field
    return None


def _token_variables(tiers: Mapping[str, Mapping[str, Any]], env: Mapping[str, str]) -> set[str]:
    """Variables named as a tier's ``token_env`` (in the file or the environment): not settings."""
    names = {cfg.get("token_env") for cfg in tiers.values() if isinstance(cfg, Mapping)}
    suffix = "_TOKEN_ENV"
    names |= {v for k, v in env.items() if k.startswith(C.ENV_PREFIX) and k.endswith(suffix)}
    return {n for n in names if isinstance(n, str) and n}


def _setting_from_env(var: str, raw: str, name: str, schema: Schema) -> dict[str, Any]:
    if name == "default_tier":  # a tier name is lower case however it is written
        return {name: raw.strip().lower()} if raw.strip() else {}
    return {name: parse_env_value(var, raw, schema.top[name])}


def _unknown_variables(
    unknown: list[str],
    tiers: Mapping[str, Any],
    found: list[tuple[str, str, str]],
    settings: Mapping[str, Any],
    schema: Schema,
) -> SpaceConfigError:
    fields = schema.env_fields
    known_tiers = {env_tier(t) for t in (*C.TIERS, *tiers)} | {t for _, t, _ in found}
    default = env_tier(str(settings.get("default_tier") or C.DEFAULT_TIER))
    valid = sorted(OTHER_ENV | set(schema.env_settings))
    described = []
    for var in unknown:
        rest = var[len(C.ENV_PREFIX) :].upper()  # compared in upper case: `..._base_url` too
        if rest in fields:
            guess: str | None = f"{C.ENV_PREFIX}{default}_{rest}"
            described.append(f"{var} names no tier (did you mean {guess}?)")
            continue
        candidates = set(valid)
        candidates |= {f"{C.ENV_PREFIX}{t}_{f}" for t in known_tiers for f in fields}
        # The same variable with another field, for a tier that is not configured yet.
        for i, char in enumerate(rest):
            if char == "_" and i:
                candidates |= {f"{C.ENV_PREFIX}{rest[:i]}_{f}" for f in fields}
        guess = closest(C.ENV_PREFIX + rest, candidates)
        described.append(f"{var} (did you mean {guess}?)" if guess else f"{var} (not a setting)")
    noun = "variable" if len(unknown) == 1 else "variables"
    return SpaceConfigError(
        f"unknown {C.ENV_PREFIX}* {noun}: {'; '.join(described)}.",
        hint=(
            f"The variables are {', '.join(valid)} and {C.ENV_PREFIX}<TIER>_<FIELD> with FIELD "
            f"one of {', '.join(schema.space).upper()}; see docs/configuration.md."
        ),
    )


# ---------------------------------------------------------------------------------- the values
def parse_env_value(var: str, raw: str, field: FieldInfo) -> Any:
    """``raw`` parsed by the field's type and checked against its bounds, or an error naming
    ``var``: booleans as true/false (1/0, yes/no, on/off), lists as JSON or comma-separated."""
    annotation = field.annotation
    value: Any = raw
    if _is(annotation, bool):
        value = parse_bool(raw, var)
    elif _list_type(annotation):
        value = _parse_list(var, raw)
    elif not _is(annotation, str) and not _is(annotation, SecretStr):
        value = raw.strip()
    checked: Any = annotation
    if field.metadata:  # the field's bounds (gt=0, le=20, ...) as Annotated metadata
        params = (annotation, *field.metadata)
        checked = Annotated[params]
    adapter: TypeAdapter[Any] = TypeAdapter(checked)
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        reason = "; ".join(e["msg"] for e in exc.errors(include_url=False))
        shown = "" if _is(annotation, SecretStr) else f"={_short(raw)!r}"
        raise SpaceConfigError(f"{var}{shown}: {reason}.") from None


def parse_bool(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise SpaceConfigError(f"{name}={value!r} is not a boolean (use true or false).")


def _parse_list(var: str, raw: str) -> Any:
    text = raw.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpaceConfigError(f"{var}={_short(raw)!r} is not a JSON list: {exc}.") from None
    return [item.strip() for item in text.split(",") if item.strip()]


def _members(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return tuple(a for a in typing.get_args(annotation) if a is not type(None))
    return (annotation,)


def _is(annotation: Any, kind: type) -> bool:
    return any(member is kind for member in _members(annotation))


def _list_type(annotation: Any) -> bool:
    return any(typing.get_origin(m) in (list, tuple, set) for m in _members(annotation))


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:80] + "..."


# ------------------------------------------------------------------------- the ambient token
AMBIENT_TOKEN_ENV: tuple[str, ...] = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
"""The variables holding the ambient token, in huggingface_hub's order."""

DISABLE_IMPLICIT_TOKEN_ENV = "HF_HUB_DISABLE_IMPLICIT_TOKEN"  # noqa: S105 - a variable name
SAVED_LOGIN = "saved login (hf auth login)"
HUB_LOGIN = "huggingface_hub login (OIDC or Colab secret)"
_SAVED_TTL = 60.0  # seconds a saved login is trusted before get_token() is asked again
_saved_cache: tuple[tuple[Any, ...], float, str | None, str] | None = None


def _is_true(value: str | None) -> bool:
    # huggingface_hub's reading of a boolean variable.
    return value is not None and value.strip().upper() in ("1", "ON", "YES", "TRUE")


def clean_token(value: str | None, where: str) -> str | None:
    """A token as it may be sent: surrounding whitespace (a pasted newline) removed; a
    control or non-ASCII character refused with an error that names where it came from and
    never shows the token. Empty is none."""
    if value is None:
        return None
    token = value.strip(" \t\r\n\x00")
    if not token:
        return None
    if any(not (0x21 <= ord(c) <= 0x7E) for c in token):
        raise SpaceConfigError(
            f"the token from {where} holds a control, space or non-ASCII character, which no "
            "Hugging Face token has.",
            hint="Copy the token again from https://huggingface.co/settings/tokens.",
        )
    return token


def token_field(value: Any, where: str) -> Any:
    """A ``token`` field's value before validation: a string or ``SecretStr`` cleaned as
    :func:`clean_token` does (empty is none); anything else is left to the field's type."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str):
        return clean_token(value, where)
    return value


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_TOKEN_LIKE = re.compile(r"(hf_|api_org_)[A-Za-z0-9]{8,}", re.ASCII)


def check_env_name(value: Any, where: str = "token_env") -> Any:
    """``value`` if it can name an environment variable; else a :class:`SpaceConfigError` that
    never shows it: a token pasted where a variable's name goes must not be echoed, stored or
    printed (``hf_...``, or anything that is not a name: a space, a dash, a control character).
    Non-strings pass through, for the field's own type check."""
    if not isinstance(value, str):
        return value
    mixed = (
        len(value) >= 30
        and any(c.islower() for c in value)
        and any(c.isupper() for c in value)
        and any(c.isdigit() for c in value)
    )
    if _ENV_NAME.fullmatch(value) and not (_TOKEN_LIKE.fullmatch(value) or mixed):
        return value
    looks = _TOKEN_LIKE.match(value.strip()) or mixed or len(value) >= 30
    raise SpaceConfigError(
        f"{where} must be the name of an environment variable, such as HF_TOKEN"
        + (", not the token itself" if looks else "")
        + " (the value is not shown).",
        hint="Put the token in an environment variable (export ACME_TOKEN=hf_...) and give "
        "that variable's name.",
    )


def _clean_token(token: str | None, where: str = "the saved login") -> str | None:
    # huggingface_hub's cleaning (no line breaks, no surrounding blanks), then our check.
    if token is None:
        return None
    return clean_token(token.replace("\r", "").replace("\n", ""), where)


def saved_token_path(env: Mapping[str, str] | None = None) -> str:
    """Where ``hf auth login`` saves the token: ``$HF_TOKEN_PATH``, else ``$HF_HOME/token``
    (``HF_HOME`` defaulting to ``$XDG_CACHE_HOME/huggingface``, then ``~/.cache/huggingface``)."""
    env = os.environ if env is None else env

    def expand(path: str) -> str:
        return os.path.expandvars(os.path.expanduser(path))

    if env.get("HF_TOKEN_PATH"):
        return expand(env["HF_TOKEN_PATH"])
    cache = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    home = env.get("HF_HOME") or os.path.join(cache, "huggingface")
    return os.path.join(expand(home), "token")


def ambient_token() -> tuple[str | None, str]:
    """The ambient token and where it comes from, in huggingface_hub's order.

    ``HF_TOKEN``, then ``HUGGING_FACE_HUB_TOKEN``, then the saved login, which is what
    ``huggingface_hub.get_token()`` returns (imported here, on first use, not with the
    package). Nothing when ``HF_HUB_DISABLE_IMPLICIT_TOKEN`` is true. The origin is one of
    ``"env HF_TOKEN"``, ``"env HUGGING_FACE_HUB_TOKEN"``, :data:`SAVED_LOGIN`, :data:`HUB_LOGIN`
    or ``"none"``; never the token. The environment is read on every call (it is cheap); the
    saved login is cached, keyed on the variables and the file's stat, for a minute at most.
    """
    env = os.environ
    if _is_true(env.get(DISABLE_IMPLICIT_TOKEN_ENV)):
        return None, "none"
    for name in AMBIENT_TOKEN_ENV:
        token = _clean_token(env.get(name), f"${name}")
        if token:
            return token, f"env {name}"
    return _saved_login()


_RESTAT_AFTER = 1.0
"""Seconds during which the saved login's file is not looked at again (a call must stay cheap;
a new `hf auth login` is still seen within this much)."""
_fast_cache: tuple[tuple[str | None, ...], float, str | None, str] | None = None


def _saved_login() -> tuple[str | None, str]:
    global _fast_cache
    env = os.environ
    env_key = tuple(
        env.get(k) for k in ("HF_TOKEN_PATH", "HF_HOME", "XDG_CACHE_HOME", "HF_OIDC_RESOURCE")
    )
    now = time.monotonic()
    fast = _fast_cache
    if fast is not None and fast[0] == env_key and now < fast[1]:
        return fast[2], fast[3]
    token, origin = _saved_login_checked()
    _fast_cache = (env_key, now + _RESTAT_AFTER, token, origin)
    return token, origin


def _saved_login_checked() -> tuple[str | None, str]:
    global _saved_cache
    path = saved_token_path()
    try:
        st = os.stat(path)
        stat: tuple[int, ...] | None = (st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        stat = None
    key = (path, stat, os.environ.get("HF_OIDC_RESOURCE"))
    now = time.monotonic()
    cached = _saved_cache
    if cached is not None and cached[0] == key and now < cached[1]:
        return cached[2], cached[3]
    token, origin = _ask_hub(path, stat is not None)
    _saved_cache = (key, now + _SAVED_TTL, token, origin)
    return token, origin


def _ask_hub(path: str, exists: bool) -> tuple[str | None, str]:
    """``huggingface_hub.get_token()`` when it reads the file at ``path``; else the file."""
    from huggingface_hub import constants, get_token

    same = os.path.abspath(constants.HF_TOKEN_PATH) == os.path.abspath(path)
    if not same:
        # HF_HOME or HF_TOKEN_PATH changed after huggingface_hub was imported (it reads them
        # once): read the file they name now, as huggingface_hub would in a fresh process.
        try:
            token = _clean_token(Path(path).read_text(encoding="utf-8")) if exists else None
        except (OSError, UnicodeDecodeError):
            token = None
        return token, SAVED_LOGIN if token else "none"
    try:
        token = _clean_token(get_token())
    except Exception as exc:  # an OIDC exchange that failed, an unreadable file
        raise SpaceConfigError(
            f"cannot read the Hugging Face login: {type(exc).__name__}: {_short(str(exc))}",
            hint="Run `hf auth login` again, or set the Space's token explicitly.",
        ) from None
    if token is None:
        return None, "none"
    oidc = bool(os.environ.get("HF_OIDC_RESOURCE"))
    return token, SAVED_LOGIN if exists and not oidc else HUB_LOGIN
