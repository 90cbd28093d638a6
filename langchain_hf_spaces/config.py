"""Settings: one :class:`SpaceConfig` per Space, grouped into tiers by :class:`SpacesSettings`.

Settings come from code, from ``HF_SPACES_*`` environment variables, or from a TOML file
(``hf-spaces.toml`` in the working directory, or the path in ``HF_SPACES_CONFIG``); the
environment overrides the file, field by field. Every field has a variable
(``HF_SPACES_<TIER>_<FIELD>``, e.g. ``HF_SPACES_BASE_WAKE_TIMEOUT``); the loading itself lives
in :mod:`langchain_hf_spaces._loading`. This module holds the models.

.. code-block:: python

    from langchain_hf_spaces import SpaceConfig, SpacesSettings

    settings = SpacesSettings(
        default_tier="base",
        tiers={
            "base": SpaceConfig(url="acme/base-llm"),  # a Space id, as the Hub names it
            "company": SpaceConfig(url="https://acme-company.hf.space", endpoint="/v1/generate"),
        },
    )

A tier's token is its own (``token``, a callable, ``token_env``) or the ambient Hugging Face
login (``HF_TOKEN``, ``HUGGING_FACE_HUB_TOKEN``, the token ``hf auth login`` saved); an ambient
token is sent only to Hugging Face hosts and to this machine (:meth:`SpaceConfig.token_source`).
"""

from __future__ import annotations

import ipaddress
import os
import pickle
import re
import warnings
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
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces import _loading, _variants
from langchain_hf_spaces._loading import (
    clean_token,
    closest,
    env_var,
    is_tier_name,
    migrate_settings_dict,
    read_settings_file,
)
from langchain_hf_spaces._variants import SpaceVariant
from langchain_hf_spaces.errors import SpaceConfigError

__all__ = [
    "SpaceConfig",
    "SpaceVariant",
    "SpacesSettings",
    "TokenProvider",
    "hub_endpoint",
    "is_hugging_face_url",
    "migrate_settings_dict",
    "normalize_space_url",
    "read_settings_file",
    "space_id_from_url",
]

TokenProvider = Callable[[], "str | None"]
"""A callable consulted before every request for the current token (token rotation)."""

_SECRET_FIELDS = {"token"}
_HIDDEN_VALUES = {"token", "token_env"}
"""Fields whose values an error never shows (a token may have been pasted into either)."""
_BOOL: TypeAdapter[bool] = TypeAdapter(bool)
KNOWN_PROTOCOLS: tuple[str, ...] = ("generate", "tgi", "gradio", "openai", "auto")
HUB_ENDPOINT = "https://huggingface.co"
NOT_SENT = "not sent: ambient token, non-Hugging Face host"
"""What :meth:`SpaceConfig.token_origin` says when an ambient token exists but stays home."""

# A Space id as the Hub writes it: `<owner>/<name>`. An owner has no dot, so `example.com/x`
# is not mistaken for one.
_SPACE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*/[A-Za-z0-9][A-Za-z0-9._-]*", re.ASCII)
_ANY_SPACE_ID_RE = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", re.ASCII)
_MAX_LABEL = 63  # DNS: the longest label of a host name


class SettingsFileWarning(UserWarning):
    """A settings file that holds tokens can be read by other users of the machine."""


_WARNED_FILES: set[str] = set()


def _warn_if_readable(path: Path, data: Mapping[str, Any]) -> None:
    """Warn once per file when it stores a token and its mode lets others read it."""
    holds = _loading.stores_tokens(data)
    if not holds or str(path) in _WARNED_FILES:
        return
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return
    if mode & 0o077:
        _WARNED_FILES.add(str(path))
        warnings.warn(
            f"{path} holds tokens but has mode {mode:04o}: other users can read them. "
            f"Run `chmod 600 {path}`, or keep the tokens in the environment (token_env).",
            SettingsFileWarning,
            stacklevel=4,
        )


def hub_endpoint() -> str:
    """The Hugging Face Hub's base URL: ``$HF_ENDPOINT`` (without a trailing ``/``), else
    ``https://huggingface.co``. Read on every call."""
    return os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or HUB_ENDPOINT


def is_hugging_face_url(url: str) -> bool:
    """True when an ambient token may go to ``url``: a Hugging Face host (``*.hf.space``,
    ``huggingface.co`` and its subdomains, the ``HF_ENDPOINT`` host) or this machine."""
    host = (urlsplit(url).hostname or "").lower()
    if host.endswith(".hf.space") or host == "huggingface.co" or host.endswith(".huggingface.co"):
        return True
    if host and host == (urlsplit(hub_endpoint()).hostname or "").lower():
        return True
    return _is_loopback(host)


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

    A Space id and both URL forms the guide names are accepted::

        >>> normalize_space_url("acme/base-llm")
        'https://acme-base-llm.hf.space'

        >>> normalize_space_url("https://huggingface.co/spaces/Acme/My_Model.v2")
        'https://acme-my-model-v2.hf.space'
        >>> normalize_space_url("https://Acme-my-model.hf.space/")
        'https://acme-my-model.hf.space'

    Any other https URL (a custom domain, an Inference Endpoint) is kept, without a trailing
    slash. Plain http is accepted only for loopback hosts unless ``allow_insecure_http``.

    Raises:
        SpaceConfigError: the URL is malformed, carries credentials or a query, uses plain
            http to a non-loopback host, or names a Space whose host label would be longer
            than DNS allows (63 characters; the Hub serves such a Space at another host).
    """
    if not isinstance(url, str) or not url.strip():
        raise SpaceConfigError("url must be a non-empty string.", hint=_URL_HINT)
    raw = url.strip()
    if _SPACE_ID_RE.fullmatch(raw):
        return f"https://{_subdomain(raw.replace('/', '-'), space_id=raw)}.hf.space"
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
    if host in _HUB_HOSTS:
        segments = [s for s in path.split("/") if s]
        if len(segments) < 3 or segments[0] != "spaces":
            raise SpaceConfigError(
                f"url {raw!r} is a huggingface.co URL but not a Space page "
                "(expected https://huggingface.co/spaces/<user>/<space>).",
                hint=_URL_HINT,
            )
        space_id = f"{segments[1]}/{segments[2]}"
        return f"https://{_subdomain(space_id.replace('/', '-'), space_id=space_id)}.hf.space"
    if host.endswith(".hf.space"):
        if parts.scheme != "https":
            raise SpaceConfigError(f"url {raw!r}: hf.space URLs use https.", hint=_URL_HINT)
        if port not in (None, 443):
            raise SpaceConfigError(
                f"url {_safe(raw)!r}: hf.space Spaces are served on port 443 only; remove :{port}.",
                hint=_URL_HINT,
            )
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


def space_id_from_url(url: str) -> str | None:
    """The Space id ``url`` names, as written (the Hub's ids keep their case), else ``None``.

    ``acme/base-llm`` and ``https://huggingface.co/spaces/acme/base-llm`` name one;
    ``https://acme-base-llm.hf.space`` does not (where the owner's name ends cannot be read
    from the host), nor does any other URL. Nothing is checked here: see
    :func:`normalize_space_url`.
    """
    raw = url.strip()
    if _SPACE_ID_RE.fullmatch(raw):
        return raw
    try:
        parts = urlsplit(raw)
    except ValueError:
        return None
    segments = [s for s in parts.path.split("/") if s]
    if (parts.hostname or "").lower() in _HUB_HOSTS and len(segments) >= 3:
        return f"{segments[1]}/{segments[2]}" if segments[0] == "spaces" else None
    return None


_HUB_HOSTS = ("huggingface.co", "www.huggingface.co", "hf.co")
_URL_HINT = (
    "Use a Space id <user>/<space>, https://huggingface.co/spaces/<user>/<space> or "
    "https://<user>-<space>.hf.space."
)


def _subdomain(label: str, *, space_id: str | None = None) -> str:
    # Hugging Face's subdomain rules: lower case; `_` and `.` become `-`.
    out = re.sub(r"[._]", "-", label.lower())
    if not re.fullmatch(r"[a-z0-9-]+", out):
        raise SpaceConfigError(f"Space name {label!r} has characters a Space URL cannot have.")
    if len(out) > _MAX_LABEL:
        if space_id is None:
            raise SpaceConfigError(
                f"host label {out!r} is {len(out)} characters long; DNS allows {_MAX_LABEL}, "
                "so no Space is served there.",
                hint="Pass the Space's real URL: its `host` in the Hub's API "
                f"({hub_endpoint()}/api/spaces/<user>/<space>).",
            )
        raise SpaceConfigError(
            f"Space {space_id!r} would be served at {out}.hf.space, a host label of {len(out)} "
            f"characters; DNS allows {_MAX_LABEL}, so the Hub serves this Space at another "
            "host.",
            hint=f"Pass the Space's real URL as url (its `host` in "
            f"{hub_endpoint()}/api/spaces/{space_id}, or the address its page shows) and "
            f"space_id={space_id!r}.",
        )
    return out


def _safe(text: str) -> str:
    return text if len(text) <= 200 else text[:200] + "..."


class SpaceConfig(BaseModel):
    """One Space: where it is, how to reach it, and the policy for talking to it.

    Every field can be set in a tier table of ``hf-spaces.toml`` and from the environment as
    ``HF_SPACES_<TIER>_<FIELD>`` (``HF_SPACES_BASE_URL``, ``HF_SPACES_COMPANY_MAX_RETRIES``).

    Args:
        url: a Space id ``<user>/<space>``, ``https://huggingface.co/spaces/<user>/<space>`` or
            ``https://<user>-<space>.hf.space`` (normalised to the latter), or any https base URL.
        space_id: the Space's id on the Hub (``<user>/<space>``); set from ``url`` when that names
            it, settable for a Space served elsewhere (a custom domain, a test server) so it can
            still be looked up on the Hub.
        endpoint: path of the generate API, default ``/api/generate``; versioned paths such as
            ``/v1/generate`` work.
        token: Hugging Face token for a private Space; a string, a ``SecretStr`` or a callable
            consulted before every request (token rotation). When unset, ``token_env`` is read,
            then the ambient login (``HF_TOKEN``, ``HUGGING_FACE_HUB_TOKEN``, the token saved by
            ``hf auth login``), at request time; an ambient token goes only to Hugging Face
            hosts and this machine.
        token_env: name of an environment variable holding the token (what ``hf-spaces init``
            stores instead of the token itself).
        revision: free text naming the model version, reported in answer metadata.
        protocol: the wire protocol: ``"generate"`` (the guide's format, default), ``"tgi"``
            (Text Generation Inference), ``"gradio"`` (a Gradio app), ``"openai"``
            (OpenAI-compatible chat: vLLM, TGI Messages API, llama.cpp) or ``"auto"`` (probe
            the Space once and remember).
        api_name: the Gradio API to call (``gradio`` protocol). Default: the app's one endpoint
            that takes a message (a ChatInterface's chat endpoint, an Interface's only one).
        model: the model name sent to an ``openai`` Space; asked from ``/v1/models`` when unset.
        allow_insecure_http: allow plain http to a host other than this machine.
        connect_timeout, read_timeout: seconds to open a connection / between bytes of an answer
            (for a stream: between chunks).
        total_timeout: seconds the whole call may take, waits and retries included (a stream too);
            overridable per call with ``timeout=``.
        pool_timeout: seconds a call waits for a free connection to this Space.
        max_retries, retry_initial_delay, retry_max_delay, max_retry_after: retries on connect
            errors, 429 and 5xx, with exponential backoff; a longer ``Retry-After`` is not waited.
        wake_timeout, wake_poll_interval: how long to wait for a sleeping Space, how often to look.
        max_response_bytes, max_prompt_chars: size caps on answers and prompts.
        variants: an A/B split of the tier: :class:`SpaceVariant` entries (or tables, or
            plain URLs), each answering a share of the calls by ``weight`` and inheriting every
            other setting of this config. With variants, ``url`` may be left out when every
            variant has its own (it is then the first variant's); a variant without a url
            uses this ``url``. A ``url`` that no variant uses is refused, so the tier's Space
            never silently drops out of the split. See ``docs/ab-tests.md``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, defer_build=True)

    url: str
    space_id: str | None = None
    endpoint: str = C.DEFAULT_ENDPOINT
    token: SecretStr | None = Field(default=None, repr=False)
    token_env: str | None = None
    revision: str | None = None
    protocol: str = C.DEFAULT_PROTOCOL
    api_name: str | None = None
    model: str | None = None
    allow_insecure_http: bool = False
    connect_timeout: float = Field(default=C.DEFAULT_CONNECT_TIMEOUT, gt=0, allow_inf_nan=False)
    read_timeout: float = Field(default=C.DEFAULT_READ_TIMEOUT, gt=0, allow_inf_nan=False)
    total_timeout: float = Field(default=C.DEFAULT_TOTAL_TIMEOUT, gt=0, allow_inf_nan=False)
    pool_timeout: float = Field(default=C.DEFAULT_POOL_TIMEOUT, gt=0, allow_inf_nan=False)
    max_retries: int = Field(default=C.DEFAULT_MAX_RETRIES, ge=0, le=20)
    retry_initial_delay: float = Field(
        default=C.DEFAULT_RETRY_INITIAL_DELAY, ge=0, allow_inf_nan=False
    )
    retry_max_delay: float = Field(default=C.DEFAULT_RETRY_MAX_DELAY, ge=0, allow_inf_nan=False)
    max_retry_after: float = Field(default=C.DEFAULT_MAX_RETRY_AFTER, ge=0, allow_inf_nan=False)
    wake_timeout: float = Field(default=C.DEFAULT_WAKE_TIMEOUT, ge=0, allow_inf_nan=False)
    wake_poll_interval: float = Field(
        default=C.DEFAULT_WAKE_POLL_INTERVAL, gt=0, allow_inf_nan=False
    )
    max_response_bytes: int = Field(default=C.DEFAULT_MAX_RESPONSE_BYTES, gt=0, allow_inf_nan=False)
    max_prompt_chars: int = Field(default=C.DEFAULT_MAX_PROMPT_CHARS, gt=0, allow_inf_nan=False)
    variants: tuple[SpaceVariant, ...] = ()

    _token_provider: TokenProvider | None = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        provider = data.get("token")
        if callable(provider) and not isinstance(provider, SecretStr):
            data["token"] = None
        else:
            provider = None
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _config_error(exc, "SpaceConfig", type(self).model_fields) from None
        self._token_provider = provider

    def __getstate__(self) -> dict[Any, Any]:
        """Pickling keeps a token provider that pickles (a module-level function, a picklable
        callable object) and refuses one that does not, saying so (``deepcopy`` keeps any)."""
        provider = self._token_provider
        if provider is not None:
            try:
                pickle.dumps(provider)
            except Exception as exc:
                name = getattr(provider, "__qualname__", type(provider).__name__)
                raise SpaceConfigError(
                    f"this Space's token provider {name!r} cannot be pickled "
                    f"({type(exc).__name__}), so neither can its settings.",
                    url=self.url,
                    hint="Use a module-level function (or a picklable callable object) as the "
                    "token provider, or set token / token_env instead.",
                ) from None
        return super().__getstate__()

    @field_validator("url", mode="before")
    @classmethod
    def _check_url_type(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        return value

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        # The one place a URL is normalised: on the input (an existing SpaceConfig passing
        # through SpacesSettings is not normalised again). It needs allow_insecure_http, a later
        # field. A SpaceConfigError raised here reaches the caller as it is, hint included.
        if isinstance(data, Mapping) and data.get("url") in (None, "") and data.get("variants"):
            data = _variants.url_from_variants(data)
        if isinstance(data, Mapping) and isinstance(data.get("url"), str):
            try:
                insecure = _BOOL.validate_python(data.get("allow_insecure_http", False))
            except ValidationError:
                insecure = False  # the field's own validation names the bad value
            url = normalize_space_url(data["url"], allow_insecure_http=insecure)
            named = space_id_from_url(data["url"])
            data = {**data, "url": url}
            given = data.get("space_id")
            if named is not None and given in (None, ""):
                data["space_id"] = named
            elif named is not None and isinstance(given, str) and given.lower() != named.lower():
                raise SpaceConfigError(
                    f"url names the Space {named!r} but space_id is {given!r}.",
                    hint="Give one of them, or make them name the same Space.",
                )
        return data

    @field_validator("variants")
    @classmethod
    def _name_variants(cls, value: tuple[SpaceVariant, ...]) -> tuple[SpaceVariant, ...]:
        return _variants.named(value)

    @model_validator(mode="after")
    def _check_variants(self) -> SpaceConfig:
        if not self.variants:
            return self
        resolved = [_variants.resolve(self._base_settings(), v) for v in self.variants]
        # A variant's own url is kept normalised, like the tier's (with the Space id it named).
        normalised = tuple(
            v.model_copy(update={"url": cfg.url, "space_id": cfg.space_id})
            if v.url is not None and v.url != cfg.url
            else v
            for v, cfg in zip(self.variants, resolved, strict=True)
        )
        if normalised != self.variants:
            object.__setattr__(self, "variants", normalised)  # still validating: frozen after
        if self.url not in {cfg.url for cfg in resolved}:
            raise SpaceConfigError(
                f"url {self.url} is not the Space of any variant, so the tier's own Space "
                "would never be called.",
                url=self.url,
                hint="Add it as a variant (a variant without url uses the tier's, e.g. "
                "variants = [{weight = 90}, {url = ..., weight = 10}]), or remove url.",
            )
        return self

    def _base_settings(self) -> dict[str, Any]:
        # Only the fields set: a variant keeps knowing which defaults were left alone (a GPU
        # Space's longer wake_timeout applies only when wake_timeout was not set).
        return self.model_dump(exclude={"variants"}, exclude_unset=True)

    def variant_configs(self) -> list[tuple[str, float, SpaceConfig]]:
        """``(name, weight, config)`` of each variant, in order: the config is this one's
        settings with the variant's on top (and no variants). Empty without variants. A
        token provider of this config is inherited by variants without a token of their own."""
        if not self.variants:  # the common case, on every call's client derivation
            return []
        base = self._base_settings()
        out: list[tuple[str, float, SpaceConfig]] = []
        for v in self.variants:
            cfg = _variants.resolve(base, v)
            if self._token_provider is not None and not (
                {"token", "token_env"} & v.overrides().keys()
            ):
                cfg._token_provider = self._token_provider
            out.append((v.name or "", v.weight, cfg))
        return out

    @field_validator("space_id", mode="before")
    @classmethod
    def _check_space_id(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip() or None
        if value is not None and not (
            isinstance(value, str) and _ANY_SPACE_ID_RE.fullmatch(value) and len(value) <= 200
        ):
            raise ValueError("must be a Space id <user>/<space>, e.g. acme/base-llm")
        return value

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith("/"):
            value = "/" + value
        if (
            any(c in value for c in "?# ")
            or any(not c.isprintable() for c in value)
            or "//" in value
            or ".." in value.split("/")
        ):
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
        return _loading.token_field(value, "token")

    @field_validator("token_env", mode="before")
    @classmethod
    def _check_token_env(cls, value: Any) -> Any:
        # A token pasted here is refused without being shown (nor kept, nor in the repr).
        return _loading.check_env_name(value)

    def updated(self, **changes: Any) -> SpaceConfig:
        """A validated copy with ``changes``; a token provider is kept unless ``token`` changes.

        Unlike ``model_copy(update=...)``, the new values are checked like the constructor's.
        """
        current = self.model_dump()
        if "url" in changes and "space_id" not in changes:
            current["space_id"] = None  # the new url names its own Space (or none)
        copy = SpaceConfig(**{**current, **changes})
        if self._token_provider is not None and "token" not in changes:
            copy._token_provider = self._token_provider
        return copy

    def with_token_provider(self, provider: TokenProvider) -> SpaceConfig:
        """Return a copy whose token comes from ``provider()`` before every request."""
        copy = self.model_copy(update={"token": None})
        copy._token_provider = provider
        return copy

    @property
    def has_token_provider(self) -> bool:
        return self._token_provider is not None

    def resolve_token(self) -> str | None:
        """The token to send now (see :meth:`token_source`)."""
        return self.token_source()()

    def token_source(self) -> Callable[[], str | None]:
        """A function giving the token to send now (what :meth:`resolve_token` calls).

        In order: the token provider (its answer, even none, is final), ``token``, the
        variable named by ``token_env``: explicit tokens, sent to this Space whatever its host.
        Then the ambient login, in huggingface_hub's order: ``HF_TOKEN``,
        ``HUGGING_FACE_HUB_TOKEN``, the token ``hf auth login`` saved (``$HF_HOME/token`` or
        ``$HF_TOKEN_PATH``), none when ``HF_HUB_DISABLE_IMPLICIT_TOKEN`` is set; an ambient
        token is sent only to Hugging Face hosts and this machine
        (:func:`is_hugging_face_url`), so a custom domain never receives your login by accident.

        Clients take it once: a fixed token is then read once, and a provider or the
        environment is consulted on every request (the saved login is cached briefly).
        """
        provider = self._token_provider
        if provider is not None:
            return lambda: clean_token(provider(), "the token callable")
        if self.token is not None:
            fixed = self.token.get_secret_value() or None
            return lambda: fixed
        name, url = self.token_env, self.url
        # Whether an ambient token may go to this URL changes only with HF_ENDPOINT.
        allowed: dict[str | None, bool] = {}

        def source() -> str | None:
            if name and os.environ.get(name):
                return clean_token(os.environ[name], f"${name}")
            endpoint = os.environ.get("HF_ENDPOINT")
            ok = allowed.get(endpoint)
            if ok is None:
                ok = allowed.setdefault(endpoint, is_hugging_face_url(url))
            return _loading.ambient_token()[0] if ok else None

        return source

    def token_origin(self) -> str:
        """Where the token sent now comes from, in words (never the token).

        ``"token callable"``, ``"config"``, ``"env <TOKEN_ENV>"``, ``"env HF_TOKEN"``,
        ``"env HUGGING_FACE_HUB_TOKEN"``, ``"saved login (hf auth login)"``, ``"none"``, or
        ``"not sent: ambient token, non-Hugging Face host"``. A token provider is not called.
        """
        if self._token_provider is not None:
            return "token callable"
        if self.token is not None:
            return "config"
        if self.token_env and os.environ.get(self.token_env):
            return f"env {self.token_env}"
        token, origin = _loading.ambient_token()
        if token is None:
            return "none"
        return origin if is_hugging_face_url(self.url) else NOT_SENT

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

        profiles: named overrides of these settings (``staging``, ``production``): profile
            name -> a table of ``enabled``, ``default_tier`` and ``tiers``, whose tier tables
            override single fields of the tier of the same name (or add a tier). In the file:
            ``[profiles.staging.tiers.base]``.
        profile: the profile in effect, ``None`` when none. Given here, it is applied to the
            settings given with it; :meth:`load` takes ``profile=`` or ``HF_SPACES_PROFILE``.

    :meth:`load` reads ``hf-spaces.toml`` and the environment; a key or an ``HF_SPACES_*``
    variable that is not a setting is a :class:`~langchain_hf_spaces.SpaceConfigError` naming
    the closest valid name. The layers, lowest first: defaults < the file < the profile < the
    environment < code.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    version: int = C.CONFIG_FILE_VERSION
    enabled: bool = True
    default_tier: str = C.DEFAULT_TIER
    tiers: dict[str, SpaceConfig] = Field(default_factory=dict)
    profiles: dict[str, dict[str, Any]] = Field(default_factory=dict)
    profile: str | None = None

    _base: dict[str, Any] | None = PrivateAttr(default=None)
    """The settings the profile was applied to (what :meth:`to_toml_dict` writes)."""

    def __init__(self, **data: Any) -> None:
        profiles = data.get("profiles")
        if profiles is not None:
            data["profiles"] = _check_profiles(profiles)
        name = data.get("profile")
        base: dict[str, Any] | None = None
        if name is not None:
            base = {k: v for k, v in data.items() if k != "profile"}
            data = {**_apply_profile(base, name), "profile": name}
        tiers = data.get("tiers")
        if isinstance(tiers, Mapping):
            data["tiers"] = _in_profile(name, _coerce_tiers, tiers)
        try:
            super().__init__(**data)
        except ValidationError as exc:
            error = _config_error(exc, "SpacesSettings", type(self).model_fields)
            raise _named(name, error) from None
        self._base = base

    @field_validator("default_tier")
    @classmethod
    def _check_default_tier_name(cls, value: str) -> str:
        if not is_tier_name(value):
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
            if not self.tiers and self.profiles and self.profile is None:
                raise ValueError(
                    "Spaces are enabled but no tier is configured outside the profiles "
                    f"({', '.join(sorted(self.profiles))}): choose one with "
                    f"{_loading.PROFILE_ENV}=<name> or `--profile <name>`"
                )
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
                hint=f"Set {env_var(name, 'url')} or add [tiers.{name}] to hf-spaces.toml.",
            ) from None

    # ----------------------------------------------------------------- loading
    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        profile: str | None = None,
    ) -> SpacesSettings:
        """Load settings from the TOML file (if any), a profile and the environment on top.

        The file is ``path``, else ``$HF_SPACES_CONFIG``, else ``./hf-spaces.toml`` when it
        exists, else the user's ``~/.config/hf-spaces/hf-spaces.toml`` (``$XDG_CONFIG_HOME``
        honoured; ``%APPDATA%`` on Windows) when it exists. The profile ``profile`` (else
        ``$HF_SPACES_PROFILE``; none when both are unset) overrides the file's settings with
        its ``[profiles.<name>]`` table. Environment variables (``HF_SPACES_ENABLED``,
        ``HF_SPACES_DEFAULT_TIER``, and ``HF_SPACES_<TIER>_<FIELD>`` for every
        :class:`SpaceConfig` field) then override both, field by field.

        Raises:
            SpaceConfigError: the file cannot be read or holds a key that is not a setting, an
                ``HF_SPACES_*`` variable is not a setting (both name the closest valid name),
                the profile is not defined (naming the defined ones), or a value is invalid.
        """
        env = os.environ if environ is None else environ
        data: dict[str, Any] = {}
        file = _loading.find_settings_file(path, env)
        if file is not None:
            data = cls._read_file(file)
        from_env = profile is None
        if from_env:
            profile = _loading.profile_from_env(env)
        return cls._layered(data, env, profile, from_env)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, profile: str | None = None
    ) -> SpacesSettings:
        """Settings from ``HF_SPACES_*`` environment variables only (a profile, from
        ``profile=`` or ``HF_SPACES_PROFILE``, can only be one given in code: none is)."""
        env = os.environ if environ is None else environ
        from_env = profile is None
        if from_env:
            profile = _loading.profile_from_env(env)
        return cls._layered({}, env, profile, from_env)

    @classmethod
    def _layered(
        cls, data: dict[str, Any], env: Mapping[str, str], profile: str | None, from_env: bool
    ) -> SpacesSettings:
        """``data`` (the file), the profile on it, the environment on top of both."""
        if profile is None:
            return cls(**_loading.apply_environment(data, env, _schema()))
        profiles = _check_profiles(data.get("profiles") or {})
        merged = _apply_profile({**data, "profiles": profiles}, profile, from_env=from_env)
        effective = _in_profile(profile, _loading.apply_environment, merged, env, _schema())
        effective.pop("profiles", None)  # checked above; put back once the rest is valid
        settings: SpacesSettings = _in_profile(profile, cls, **effective)
        out = settings.model_copy(update={"profile": profile, "profiles": profiles})
        out._base = data
        return out

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> SpacesSettings:
        """Settings from a TOML file only."""
        return cls(**cls._read_file(Path(path)))

    def with_profile(self, profile: str | None) -> SpacesSettings:
        """These settings with ``profile`` applied instead of the one in effect (``None``:
        the settings without a profile). The environment is not read: settings loaded with a
        profile give the file's settings with the new profile, without the ``HF_SPACES_*``
        overrides; use :meth:`load` with ``profile=`` to have them on top again."""
        base = dict(self._base) if self._base is not None else self._fields()
        if profile is None:
            return SpacesSettings(**base)
        return SpacesSettings(**base, profile=profile)

    def _fields(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "enabled": self.enabled,
            "default_tier": self.default_tier,
            "tiers": dict(self.tiers),
            "profiles": dict(self.profiles),
        }

    @staticmethod
    def _read_file(path: Path) -> dict[str, Any]:
        data = read_settings_file(path)
        _loading.check_file_keys(data, _schema(), path)
        _warn_if_readable(path, data)
        return data

    def to_toml_dict(self, *, include_tokens: bool = False) -> dict[str, Any]:
        """A dict in the TOML file format (tokens left out unless asked for), profiles included.

        With a profile in effect, the settings the profile was applied to are written (not
        the profile's values as the top-level ones) and the profile's name is not: it is
        chosen when loading."""
        base = self._base
        if self.profile is not None and base is not None:
            out: dict[str, Any] = {"version": base.get("version", self.version)}
            out.update({k: base[k] for k in ("enabled", "default_tier") if k in base})
            tables = base.get("tiers") or {}
            out["tiers"] = {n: _tier_table(t, include_tokens) for n, t in tables.items()}
        else:
            out = {
                "version": self.version,
                "enabled": self.enabled,
                "default_tier": self.default_tier,
                "tiers": {n: _tier_table(c, include_tokens) for n, c in self.tiers.items()},
            }
        if self.profiles:
            out["profiles"] = {
                name: _profile_table(table, include_tokens) for name, table in self.profiles.items()
            }
        return out


def _tier_table(cfg: SpaceConfig | Mapping[str, Any], include_tokens: bool) -> dict[str, Any]:
    """A tier (a :class:`SpaceConfig`, or a table as written) as a TOML table; tokens left out
    unless asked for (a token provider is never written)."""
    if isinstance(cfg, Mapping):
        entry = {k: v for k, v in cfg.items() if k not in _SECRET_FIELDS and v is not None}
        token = cfg.get("token")
        if isinstance(token, SecretStr):
            token = token.get_secret_value()
        if include_tokens and isinstance(token, str) and token:
            entry["token"] = token
        return entry
    entry = {"url": cfg.url, "endpoint": cfg.endpoint, "protocol": cfg.protocol}
    for field, info in SpaceConfig.model_fields.items():
        value = getattr(cfg, field)
        if field in entry or field in _SECRET_FIELDS or value in (None, info.default):
            continue
        entry[field] = value
    if cfg.variants:
        entry["variants"] = [_variants.toml_entry(v, include_tokens) for v in cfg.variants]
    if include_tokens and cfg.token is not None:
        entry["token"] = cfg.token.get_secret_value()
    return entry


def _profile_table(table: Mapping[str, Any], include_tokens: bool) -> dict[str, Any]:
    out = {k: v for k, v in table.items() if k != "tiers"}
    tiers = table.get("tiers")
    if tiers:
        out["tiers"] = {n: _tier_table(t, include_tokens) for n, t in tiers.items()}
    return out


# ---------------------------------------------------------------------------------- profiles
_PLACEHOLDER_URL = "http://127.0.0.1"
"""What a profile's tier table is checked with when it does not set the url itself."""


def _check_profiles(value: Any) -> dict[str, dict[str, Any]]:
    """Profiles as given, checked: names, keys, and each tier table's values (by the same
    validators as a tier's, so a typo in a profile not in use is found too)."""
    if not isinstance(value, Mapping):
        raise SpaceConfigError(
            f"profiles must be a table of profiles (name -> settings), not {type(value).__name__}.",
            hint="e.g. profiles={'staging': {'tiers': {'base': {'url': 'acme/base-staging'}}}}",
        )
    out: dict[str, dict[str, Any]] = {}
    for name, table in value.items():
        if not is_tier_name(name):
            raise SpaceConfigError(
                f"profile name {name!r} is invalid: use [a-z][a-z0-9_-]*, e.g. staging.",
                hint="A profile is named on the command line and in HF_SPACES_PROFILE.",
            )
        if not isinstance(table, Mapping):
            raise SpaceConfigError(
                f"profile {name!r} must be a table of settings, not {type(table).__name__}.",
                hint=f"Write it as a [profiles.{name}] table (default_tier, enabled, tiers).",
            )
        for key in table:
            if key not in _loading.PROFILE_KEYS:
                guess = closest(str(key), _loading.PROFILE_KEYS)
                raise SpaceConfigError(
                    f"profile {name!r}: unknown key {key!r}"
                    + (f" (did you mean {guess!r}?)." if guess else "."),
                    hint=f"A profile sets {', '.join(_loading.PROFILE_KEYS)}.",
                )
        entry = dict(table)
        if "enabled" in entry and not isinstance(entry["enabled"], bool):
            entry["enabled"] = _in_profile(
                name, _loading.parse_bool, str(entry["enabled"]), "enabled"
            )
        tier = entry.get("default_tier")
        if "default_tier" in entry and not is_tier_name(tier):
            raise SpaceConfigError(
                f"profile {name!r}: default_tier={_shown(str(tier))}: must be a tier name such as "
                "base, company, abstraction or user."
            )
        tiers = entry.get("tiers", {})
        if not isinstance(tiers, Mapping):
            raise SpaceConfigError(
                f"profile {name!r}: tiers must be a table of tiers, not {type(tiers).__name__}.",
                hint=f"Write each as a [profiles.{name}.tiers.<tier>] table.",
            )
        checked: dict[str, Any] = {}
        for tier_name, fields in tiers.items():
            if isinstance(fields, SpaceConfig):
                checked[tier_name] = fields
                continue
            if not isinstance(fields, Mapping):
                raise SpaceConfigError(
                    f"profile {name!r}: tier {tier_name!r} must be a SpaceConfig or a table of "
                    f"settings, not {type(fields).__name__}.",
                    tier=str(tier_name),
                )
            sample = {"url": _PLACEHOLDER_URL, **fields}
            _in_profile(name, _coerce_tiers, {tier_name: sample})
            table = dict(fields)
            if isinstance(table.get("token"), str):  # kept out of reprs, as a tier's token
                table["token"] = SecretStr(table["token"])
            checked[tier_name] = table
        if "tiers" in entry:
            entry["tiers"] = checked
        out[name] = entry
    return out


def _apply_profile(data: Mapping[str, Any], name: str, *, from_env: bool = False) -> dict[str, Any]:
    """``data`` (settings as given) with profile ``name`` of its ``profiles`` on top: the
    profile's top-level keys replace, its tier tables override single fields of a tier (a
    :class:`SpaceConfig` in a profile replaces the tier). A url changed without a space_id
    drops the base tier's space_id: the new url names its own Space."""
    profiles: Mapping[str, Any] = data.get("profiles") or {}
    origin = f"{_loading.PROFILE_ENV}={name!r}: " if from_env else ""
    if not isinstance(name, str) or not name.strip():
        raise SpaceConfigError(
            f"the profile must be a non-empty name, not {name!r}.",
            hint="Name a [profiles.<name>] table of the settings, or pass profile=None.",
        )
    if name not in profiles:
        guess = closest(name, profiles)
        known = ", ".join(sorted(profiles))
        raise SpaceConfigError(
            f"{origin}profile {name!r} is not defined"
            + (f" (did you mean {guess!r}?)" if guess else "")
            + (f"; the profiles: {known}." if known else "; the settings define no profile."),
            hint=f"Add a [profiles.{name}] table to {C.CONFIG_FILE_NAME}, or choose a defined "
            f"profile (--profile, {_loading.PROFILE_ENV}).",
        )
    table = profiles[name]
    out = dict(data)
    for key in ("enabled", "default_tier"):
        if key in table:
            out[key] = table[key]
    tiers: dict[str, Any] = dict(out.get("tiers") or {})
    for tier, fields in (table.get("tiers") or {}).items():
        current = tiers.get(tier)
        if isinstance(fields, SpaceConfig) or current is None:
            tiers[tier] = fields
        elif isinstance(current, SpaceConfig):
            tiers[tier] = _in_profile(name, current.updated, **fields)
        else:
            merged = {**current, **fields}
            if "url" in fields and "space_id" not in fields:
                merged.pop("space_id", None)
            tiers[tier] = merged
    out["tiers"] = tiers
    return out


def _named(profile: str | None, exc: SpaceConfigError) -> SpaceConfigError:
    """``exc`` saying which profile it happened with."""
    if profile is None or f"profile {profile!r}" in exc.message:
        return exc
    return SpaceConfigError(
        f"with profile {profile!r}: {exc.message}",
        tier=exc.tier,
        url=exc.url,
        hint=exc.hint or None,
    )


def _in_profile(profile: str | None, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return func(*args, **kwargs)
    except SpaceConfigError as exc:
        raise _named(profile, exc) from None


def _coerce_tiers(value: Mapping[Any, Any]) -> dict[str, SpaceConfig]:
    out: dict[str, SpaceConfig] = {}
    for name, cfg in value.items():
        if not is_tier_name(name):
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


def _config_error(exc: ValidationError, model: str, fields: Mapping[str, Any]) -> SpaceConfigError:
    """Turn pydantic's error into ours, naming fields and values but never a secret.

    A :class:`SpaceConfigError` raised by a validator comes back as it was raised (with its
    hint); an unknown key names the closest field.
    """
    errors = exc.errors(include_url=False, include_input=True)
    parts = []
    tier: str | None = None
    for err in errors:
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, SpaceConfigError):
            if len(errors) == 1:
                return cause
            parts.append(cause.message.rstrip("."))
            continue
        loc = [str(p) for p in err["loc"]]
        if len(loc) >= 2 and loc[0] == "tiers":
            tier = loc[1]
        field = ".".join(loc)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and loc:
            guess = closest(loc[-1], fields)
            msg += f" (did you mean {guess!r}?)" if guess else f" (the fields: {', '.join(fields)})"
        value = err.get("input")
        if loc and not _HIDDEN_VALUES.intersection(loc) and isinstance(value, (str, int, float)):
            parts.append(f"{field}={_shown(value)}: {msg}")
        else:
            parts.append(f"{field}: {msg}" if field else msg)
    return SpaceConfigError(f"invalid {model}: " + "; ".join(parts) + ".", tier=tier)


def _shown(value: str | int | float) -> str:
    """A value for an error message, at most 80 characters (a 5000-digit int included)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"<an integer of about {int(value.bit_length() * 0.30103)} digits>"
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:80] + "..."


def _schema() -> _loading.Schema:
    """The settings models' fields, as the loader needs them."""
    return _loading.Schema(top=SpacesSettings.model_fields, space=SpaceConfig.model_fields)
