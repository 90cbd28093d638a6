"""Settings: one :class:`SpaceConfig` per Space, grouped into tiers by :class:`SpacesSettings`.

Settings come from code, from ``HF_SPACES_*`` environment variables, or from a TOML file
(``hf-spaces.toml`` in the working directory, or the path in ``HF_SPACES_CONFIG``); the
environment overrides the file, field by field.

.. code-block:: python

    from langchain_hf_spaces import SpaceConfig, SpacesSettings

    settings = SpacesSettings(
        default_tier="base",
        tiers={
            "base": SpaceConfig(url="https://huggingface.co/spaces/acme/base-llm"),
            "company": SpaceConfig(url="https://acme-company.hf.space", endpoint="/v1/generate"),
        },
    )
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces.errors import SpaceConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["SpaceConfig", "SpacesSettings", "TokenProvider", "normalize_space_url"]

TokenProvider = Callable[[], "str | None"]
"""A callable consulted before every request for the current token (token rotation)."""

_TIER_RE = re.compile(C.TIER_NAME_PATTERN)
_SECRET_FIELDS = {"token"}
KNOWN_PROTOCOLS: tuple[str, ...] = ("generate", "tgi", "gradio", "openai", "auto")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """True when ``url`` points at this machine (127.0.0.0/8, ::1, localhost)."""
    return _is_loopback(urlsplit(url).hostname or "")


def normalize_space_url(url: str, *, allow_insecure_http: bool = False) -> str:
    """Return the canonical base URL of a Space.

    Both URL forms the guide names are accepted::

        >>> normalize_space_url("https://huggingface.co/spaces/Acme/My_Model.v2")
        'https://acme-my-model-v2.hf.space'
        >>> normalize_space_url("https://Acme-my-model.hf.space/")
        'https://acme-my-model.hf.space'

    Any other https URL (a custom domain, an Inference Endpoint) is kept, without a trailing
    slash. Plain http is accepted only for loopback hosts unless ``allow_insecure_http``.

    Raises:
        SpaceConfigError: the URL is malformed, carries credentials or a query, or uses plain
            http to a non-loopback host.
    """
    if not isinstance(url, str) or not url.strip():
        raise SpaceConfigError("url must be a non-empty string.", hint=_URL_HINT)
    raw = url.strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise SpaceConfigError(f"url {raw!r} is malformed: {exc}.", hint=_URL_HINT) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SpaceConfigError(
            f"url {_safe(raw)!r} is not an http(s) URL with a host.", hint=_URL_HINT
        )
    if parts.username or parts.password:
        raise SpaceConfigError(
            "url must not carry credentials (user:password@); set the Space's token instead.",
            hint=_URL_HINT,
        )
    if parts.query or parts.fragment:
        raise SpaceConfigError(
            f"url {_safe(raw)!r} must not have a query or fragment; put the path in `endpoint`.",
            hint=_URL_HINT,
        )
    host = parts.hostname.lower()
    path = parts.path.rstrip("/")
    if host in ("huggingface.co", "www.huggingface.co", "hf.co"):
        segments = [s for s in path.split("/") if s]
        if len(segments) < 3 or segments[0] != "spaces":
            raise SpaceConfigError(
                f"url {raw!r} is a huggingface.co URL but not a Space page "
                "(expected https://huggingface.co/spaces/<user>/<space>).",
                hint=_URL_HINT,
            )
        subdomain = f"{segments[1]}-{segments[2]}"
        return f"https://{_subdomain(subdomain)}.hf.space"
    if host.endswith(".hf.space"):
        if parts.scheme != "https":
            raise SpaceConfigError(f"url {raw!r}: hf.space URLs use https.", hint=_URL_HINT)
        label = host[: -len(".hf.space")]
        return f"https://{_subdomain(label)}.hf.space{path}"
    if parts.scheme == "http" and not _is_loopback(host) and not allow_insecure_http:
        raise SpaceConfigError(
            f"url {raw!r} uses plain http to a non-loopback host, which would expose the token.",
            hint="Use https, or set allow_insecure_http=True if you accept the risk.",
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return f"{parts.scheme}://{netloc}{path}"


_URL_HINT = "Use https://huggingface.co/spaces/<user>/<space> or https://<user>-<space>.hf.space."


def _subdomain(label: str) -> str:
    # Hugging Face's subdomain rules: lower case; `_` and `.` become `-`.
    out = re.sub(r"[._]", "-", label.lower())
    if not re.fullmatch(r"[a-z0-9-]+", out):
        raise SpaceConfigError(f"Space name {label!r} has characters a Space URL cannot have.")
    return out


def _safe(text: str) -> str:
    return text if len(text) <= 200 else text[:200] + "..."


class SpaceConfig(BaseModel):
    """One Space: where it is, how to reach it, and the policy for talking to it.

    Args:
        url: ``https://huggingface.co/spaces/<user>/<space>`` or ``https://<user>-<space>.hf.space``
            (normalised to the latter), or any https base URL. Env: ``HF_SPACES_<TIER>_URL``.
        endpoint: path of the generate API, default ``/api/generate``; versioned paths such as
            ``/v1/generate`` work. Env: ``HF_SPACES_<TIER>_ENDPOINT``.
        token: Hugging Face token for a private Space; a string, a ``SecretStr`` or a callable
            consulted before every request (token rotation). Env: ``HF_SPACES_<TIER>_TOKEN``.
            When unset, ``token_env`` is read, then ``HF_TOKEN``, at request time.
        token_env: name of an environment variable holding the token (what ``hf-spaces init``
            stores instead of the token itself).
        revision: free text naming the model version, reported in answer metadata.
        protocol: the wire protocol: ``"generate"`` (the guide's format, default), ``"tgi"``
            (Text Generation Inference), ``"gradio"`` (a Gradio app), ``"openai"``
            (OpenAI-compatible chat: vLLM, TGI Messages API, llama.cpp) or ``"auto"`` (probe
            the Space once and remember). Env: ``HF_SPACES_<TIER>_PROTOCOL``.
        api_name: the Gradio API to call (``gradio`` protocol), default ``/predict``.
        model: the model name sent to an ``openai`` Space; asked from ``/v1/models`` when unset.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, defer_build=True)

    url: str
    endpoint: str = C.DEFAULT_ENDPOINT
    token: SecretStr | None = Field(default=None, repr=False)
    token_env: str | None = None
    revision: str | None = None
    protocol: str = C.DEFAULT_PROTOCOL
    api_name: str = "/predict"
    model: str | None = None
    allow_insecure_http: bool = False
    connect_timeout: float = Field(default=C.DEFAULT_CONNECT_TIMEOUT, gt=0)
    read_timeout: float = Field(default=C.DEFAULT_READ_TIMEOUT, gt=0)
    max_retries: int = Field(default=C.DEFAULT_MAX_RETRIES, ge=0, le=20)
    retry_initial_delay: float = Field(default=C.DEFAULT_RETRY_INITIAL_DELAY, ge=0)
    retry_max_delay: float = Field(default=C.DEFAULT_RETRY_MAX_DELAY, ge=0)
    max_retry_after: float = Field(default=C.DEFAULT_MAX_RETRY_AFTER, ge=0)
    wake_timeout: float = Field(default=C.DEFAULT_WAKE_TIMEOUT, ge=0)
    wake_poll_interval: float = Field(default=C.DEFAULT_WAKE_POLL_INTERVAL, gt=0)
    max_response_bytes: int = Field(default=C.DEFAULT_MAX_RESPONSE_BYTES, gt=0)
    max_prompt_chars: int = Field(default=C.DEFAULT_MAX_PROMPT_CHARS, gt=0)

    _token_provider: TokenProvider | None = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        provider = data.get("token")
        if callable(provider) and not isinstance(provider, SecretStr):
            data["token"] = None
        else:
            provider = None
        url = data.get("url")
        if isinstance(url, str):
            data["url"] = normalize_space_url(
                url, allow_insecure_http=bool(data.get("allow_insecure_http", False))
            )
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _config_error(exc, "SpaceConfig") from None
        self._token_provider = provider

    @field_validator("url", mode="before")
    @classmethod
    def _check_url_type(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        return value

    @model_validator(mode="after")
    def _normalise(self) -> SpaceConfig:
        try:
            url = normalize_space_url(self.url, allow_insecure_http=self.allow_insecure_http)
        except SpaceConfigError as exc:
            raise ValueError(exc.message) from None
        object.__setattr__(self, "url", url)
        return self

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith("/"):
            value = "/" + value
        if any(c in value for c in "?# ") or "//" in value or ".." in value.split("/"):
            raise ValueError("must be a plain path such as /api/generate or /v1/generate")
        return value

    @field_validator("protocol")
    @classmethod
    def _check_protocol(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in KNOWN_PROTOCOLS:
            raise ValueError(f"must be one of {', '.join(KNOWN_PROTOCOLS)}")
        return value

    @field_validator("token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("token_env")
    @classmethod
    def _check_token_env(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError("must be an environment variable name")
        return value

    def with_token_provider(self, provider: TokenProvider) -> SpaceConfig:
        """Return a copy whose token comes from ``provider()`` before every request."""
        copy = self.model_copy(update={"token": None})
        copy._token_provider = provider
        return copy

    @property
    def has_token_provider(self) -> bool:
        return self._token_provider is not None

    def resolve_token(self) -> str | None:
        """The token to send now: provider, ``token``, ``token_env``, then ``HF_TOKEN``."""
        return self.token_source()()

    def token_source(self) -> Callable[[], str | None]:
        """A function giving the token to send now (what :meth:`resolve_token` calls).

        Clients take it once: a fixed token is then read once, and a provider or an
        environment variable is consulted on every request.
        """
        provider = self._token_provider
        if provider is not None:
            return lambda: provider() or None
        if self.token is not None:
            fixed = self.token.get_secret_value() or None
            return lambda: fixed
        name = self.token_env or C.TOKEN_ENV_FALLBACK
        return lambda: os.environ.get(name) or None

    @property
    def endpoint_url(self) -> str:
        return self.url + self.endpoint

    @property
    def sends_token_insecurely(self) -> bool:
        """True when the URL is plain http to a non-loopback host."""
        return self.url.startswith("http://") and not is_loopback_url(self.url)


class SpacesSettings(BaseModel):
    """All configured Spaces, by tier, plus the on/off switch and the default tier.

    Args:
        enabled: the guide's feature toggle; when false every call raises
            :class:`~langchain_hf_spaces.SpacesDisabledError`. Env: ``HF_SPACES_ENABLED``.
        default_tier: the tier used when a call names none (default ``base``).
            Env: ``HF_SPACES_DEFAULT_TIER``.
        tiers: tier name -> :class:`SpaceConfig`; the guide's tiers are ``base``, ``company``,
            ``abstraction`` and ``user``; other names matching ``[a-z][a-z0-9_-]*`` are allowed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    version: int = C.CONFIG_FILE_VERSION
    enabled: bool = True
    default_tier: str = C.DEFAULT_TIER
    tiers: dict[str, SpaceConfig] = Field(default_factory=dict)

    def __init__(self, **data: Any) -> None:
        tiers = data.get("tiers")
        if isinstance(tiers, Mapping):
            data["tiers"] = _coerce_tiers(tiers)
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _config_error(exc, "SpacesSettings") from None

    @field_validator("default_tier")
    @classmethod
    def _check_default_tier_name(cls, value: str) -> str:
        if not _TIER_RE.match(value):
            raise ValueError("must be a tier name such as base, company, abstraction or user")
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> SpacesSettings:
        if self.version > C.CONFIG_FILE_VERSION:
            raise ValueError(
                f"settings version {self.version} is newer than this package understands "
                f"({C.CONFIG_FILE_VERSION}); upgrade langchain-hf-spaces"
            )
        if self.enabled:
            if not self.tiers:
                raise ValueError(
                    "Spaces are enabled but no tier is configured: set HF_SPACES_BASE_URL, "
                    "pass tiers={'base': SpaceConfig(url=...)}, or run `hf-spaces init`"
                )
            if self.default_tier not in self.tiers:
                raise ValueError(
                    f"default_tier {self.default_tier!r} is not configured "
                    f"(configured: {', '.join(sorted(self.tiers))})"
                )
        return self

    def space(self, tier: str | None = None) -> SpaceConfig:
        """The :class:`SpaceConfig` of ``tier`` (the default tier when ``None``)."""
        name = self.default_tier if tier is None else tier
        try:
            return self.tiers[name]
        except KeyError:
            raise SpaceConfigError(
                f"tier {name!r} is not configured (configured: "
                f"{', '.join(sorted(self.tiers)) or 'none'}).",
                tier=name,
                hint=(
                    f"Set HF_SPACES_{_env_name(name)}_URL or add [tiers.{name}] to hf-spaces.toml."
                ),
            ) from None

    # ----------------------------------------------------------------- loading
    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> SpacesSettings:
        """Load settings from the TOML file (if any) with the environment on top.

        The file is ``path``, else ``$HF_SPACES_CONFIG``, else ``./hf-spaces.toml`` when it
        exists. Environment variables (``HF_SPACES_ENABLED``, ``HF_SPACES_DEFAULT_TIER``,
        ``HF_SPACES_<TIER>_URL``/``_ENDPOINT``/``_TOKEN``/``_REVISION``/``_PROTOCOL``/
        ``_TOKEN_ENV``) override the file field by field.
        """
        env = os.environ if environ is None else environ
        data: dict[str, Any] = {}
        file = cls._find_file(path, env)
        if file is not None:
            data = read_settings_file(file)
        merged = _merge_env(data, env)
        return cls(**merged)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SpacesSettings:
        """Settings from ``HF_SPACES_*`` environment variables only."""
        return cls(**_merge_env({}, os.environ if environ is None else environ))

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> SpacesSettings:
        """Settings from a TOML file only."""
        return cls(**read_settings_file(Path(path)))

    @staticmethod
    def _find_file(path: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path | None:
        if path is not None:
            return Path(path)
        if env.get("HF_SPACES_CONFIG"):
            return Path(env["HF_SPACES_CONFIG"])
        local = Path.cwd() / C.CONFIG_FILE_NAME
        return local if local.is_file() else None

    def to_toml_dict(self, *, include_tokens: bool = False) -> dict[str, Any]:
        """A dict in the TOML file format (tokens left out unless asked for)."""
        tiers: dict[str, Any] = {}
        for name, cfg in self.tiers.items():
            entry: dict[str, Any] = {"url": cfg.url, "endpoint": cfg.endpoint}
            entry["protocol"] = cfg.protocol
            if cfg.protocol in ("gradio", "auto") and cfg.api_name != "/predict":
                entry["api_name"] = cfg.api_name
            if cfg.model:
                entry["model"] = cfg.model
            if cfg.revision:
                entry["revision"] = cfg.revision
            if cfg.token_env:
                entry["token_env"] = cfg.token_env
            if include_tokens and cfg.token is not None:
                entry["token"] = cfg.token.get_secret_value()
            tiers[name] = entry
        return {
            "version": self.version,
            "enabled": self.enabled,
            "default_tier": self.default_tier,
            "tiers": tiers,
        }


def _coerce_tiers(value: Mapping[Any, Any]) -> dict[str, SpaceConfig]:
    out: dict[str, SpaceConfig] = {}
    for name, cfg in value.items():
        if not isinstance(name, str) or not _TIER_RE.match(name):
            raise SpaceConfigError(
                f"tier name {name!r} is invalid: use [a-z][a-z0-9_-]*, e.g. {', '.join(C.TIERS)}."
            )
        if isinstance(cfg, SpaceConfig):
            out[name] = cfg
        elif isinstance(cfg, Mapping):
            try:
                out[name] = SpaceConfig(**cfg)
            except SpaceConfigError as exc:
                raise SpaceConfigError(exc.message, tier=name, hint=exc.hint or None) from None
        else:
            raise SpaceConfigError(
                f"tier {name!r} must be a SpaceConfig or a table of settings, "
                f"not {type(cfg).__name__}.",
                tier=name,
            )
    return out


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
    if not isinstance(version, int):
        raise SpaceConfigError(f"settings `version` must be an integer, got {version!r}.")
    if version == 0:
        tiers = dict(out.pop("tiers", {}) or {})
        for key in list(out):
            if isinstance(out[key], dict) and key not in ("tiers",):
                tiers[key] = out.pop(key)
                changes.append(f"moved [{key}] to [tiers.{key}]")
        out["tiers"] = tiers
        out["version"] = 1
        changes.append("added version = 1")
    return out, changes


def _env_name(tier: str) -> str:
    return tier.upper().replace("-", "_")


_ENV_FIELDS = ("URL", "ENDPOINT", "TOKEN", "TOKEN_ENV", "REVISION", "PROTOCOL", "API_NAME", "MODEL")


def _merge_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    out = dict(data)
    tiers: dict[str, dict[str, Any]] = {
        name: dict(cfg) for name, cfg in (out.get("tiers") or {}).items()
    }
    if "HF_SPACES_ENABLED" in env:
        out["enabled"] = _parse_bool(env["HF_SPACES_ENABLED"], "HF_SPACES_ENABLED")
    if env.get("HF_SPACES_DEFAULT_TIER"):
        out["default_tier"] = env["HF_SPACES_DEFAULT_TIER"].strip().lower()
    # Tier names: the four known ones, any already in the file, and any HF_SPACES_<X>_URL.
    names = set(C.TIERS) | set(tiers)
    url_re = re.compile(r"^HF_SPACES_([A-Z][A-Z0-9_]*)_URL$")
    for key in env:
        m = url_re.match(key)
        if m and m.group(1) not in ("DEFAULT",):
            names.add(m.group(1).lower())
    for name in sorted(names):
        prefix = f"{C.ENV_PREFIX}{_env_name(name)}_"
        for field in _ENV_FIELDS:
            value = env.get(prefix + field)
            if value is None or value == "":
                continue
            tiers.setdefault(name, {})[field.lower()] = value
    # A tier whose env vars exist but no URL anywhere is a mistake worth naming.
    for name, cfg in tiers.items():
        if "url" not in cfg:
            raise SpaceConfigError(
                f"tier {name!r} has settings but no url.",
                tier=name,
                hint=f"Set HF_SPACES_{_env_name(name)}_URL or url in [tiers.{name}].",
            )
    out["tiers"] = tiers
    return out


def _parse_bool(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise SpaceConfigError(f"{name}={value!r} is not a boolean (use true or false).")


def _config_error(exc: ValidationError, model: str) -> SpaceConfigError:
    """Turn pydantic's error into ours, naming fields and values but never a secret."""
    parts = []
    tier: str | None = None
    for err in exc.errors(include_url=False, include_input=True):
        loc = [str(p) for p in err["loc"]]
        if len(loc) >= 2 and loc[0] == "tiers":
            tier = loc[1]
        field = ".".join(loc)
        msg = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        if loc and not _SECRET_FIELDS.intersection(loc) and isinstance(value, (str, int, float)):
            shown = repr(value)
            if len(shown) > 80:
                shown = shown[:80] + "..."
            parts.append(f"{field}={shown}: {msg}")
        else:
            parts.append(f"{field}: {msg}" if field else msg)
    return SpaceConfigError(f"invalid {model}: " + "; ".join(parts) + ".", tier=tier)
